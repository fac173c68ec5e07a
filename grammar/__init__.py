"""The Lark grammar of .ft recipes, shipped as package data."""
