// Starts `ft lsp` for .ft files; everything else (diagnostics, hover, completion, formatting,
// go-to-definition) is the server's.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("ftlang").get("command");
  client = new LanguageClient(
    "ftlang",
    "ftlang",
    { command, args },
    { documentSelector: [{ scheme: "file", language: "ft" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
