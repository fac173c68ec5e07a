#!/usr/bin/env python3
"""Deterministic generator for the small datasets used by the example recipes.

Only the standard library is used and every random choice comes from a
``random.Random`` seeded with a fixed value (one independent stream per
output file), so re-running this script reproduces byte-identical files::

    python recipes/data/generate.py            # writes next to this file
    python recipes/data/generate.py --out DIR  # writes into DIR instead

Outputs (JSON Lines, UTF-8, one object per line, fixed key order):

* tickets.jsonl       id, subject, body, team          (~600 rows)
* general.jsonl       id, subject, body, team          (~100 rows, guard set)
* instructions.jsonl  instruction, response            (~400 rows)
* prefs.jsonl         prompt, chosen, rejected         (~300 rows)
* feedback.jsonl      prompt, completion, good         (prefs' answers unpaired, ~600 rows)
* rewards.jsonl       prompt, answer                   (~200 rows)
* tickets.csv         id, subject, body, team          (first 50 tickets)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
from collections import Counter
from pathlib import Path

SEED = 20240607
TEAMS = ("billing", "technical", "account", "shipping")

# --------------------------------------------------------------------------
# shared vocabulary
# --------------------------------------------------------------------------

FIRST_NAMES = [
    "Alice",
    "Ben",
    "Carla",
    "Dmitri",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Lucas",
    "Maya",
    "Nils",
    "Olivia",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Amara",
    "Bruno",
    "Chloe",
    "Diego",
    "Emma",
    "Felix",
    "Hana",
    "Ivan",
    "Julia",
    "Kai",
    "Leila",
    "Mateo",
    "Nora",
    "Omar",
]
LAST_NAMES = [
    "Smith",
    "Garcia",
    "Müller",
    "Rossi",
    "Kowalski",
    "Nguyen",
    "Okafor",
    "Tanaka",
    "Silva",
    "Dubois",
    "Jensen",
    "Patel",
    "Novak",
    "Costa",
    "Larsen",
    "Ahmed",
    "Brown",
    "Kim",
    "Moreau",
    "Fischer",
]
PRODUCTS = [
    "Pro plan",
    "Basic plan",
    "Family plan",
    "Team workspace",
    "SmartHub X2",
    "AirBeam router",
    "PixelNote tablet",
    "SoundLoop speaker",
    "photo storage add-on",
    "FitBand watch",
    "Premium subscription",
    "starter kit",
]
PHYSICAL = [
    "SmartHub X2",
    "AirBeam router",
    "PixelNote tablet",
    "SoundLoop speaker",
    "FitBand watch",
    "starter kit",
    "charging dock",
    "replacement cable",
]
PLATFORMS = [
    "the iOS app",
    "the Android app",
    "the desktop app",
    "the web dashboard",
    "the mobile app",
    "the Windows app",
    "the Mac app",
    "the browser version",
]
CARRIERS = ["DHL", "UPS", "FedEx", "the postal service", "DPD", "GLS"]
CITIES = [
    "Lyon",
    "Leeds",
    "Porto",
    "Graz",
    "Austin",
    "Gdansk",
    "Osaka",
    "Turin",
    "Utrecht",
    "Malmö",
    "Denver",
    "Cork",
    "Bilbao",
    "Ghent",
]
ERROR_CODES = ["E101", "E204", "ERR_502", "0x80070005", "E-17", "503", "ERR_TIMEOUT", "E330"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

GREETINGS = [
    "",
    "",
    "",
    "Hi,",
    "Hello,",
    "Hi team,",
    "Hello support,",
    "Hey there,",
    "Good morning,",
    "Dear support,",
    "Hi!",
    "Hello.",
]
CLOSINGS = [
    "",
    "",
    "",
    "Thanks.",
    "Thank you!",
    "Please help.",
    "Any help appreciated.",
    "Thanks, {first}",
    "Regards, {first} {last}",
    "Cheers, {first}",
    "Please get back to me soon.",
    "Thanks in advance.",
]


def _slots(rng: random.Random) -> dict[str, str]:
    """Fresh random values for every placeholder a template may use."""
    amount = rng.choice([4.99, 9.99, 12.5, 19.99, 24.0, 29.99, 49.0, 59.99, 79.0, 99.0, 129.99, 249.0])
    return {
        "first": rng.choice(FIRST_NAMES),
        "last": rng.choice(LAST_NAMES),
        "product": rng.choice(PRODUCTS),
        "item": rng.choice(PHYSICAL),
        "platform": rng.choice(PLATFORMS),
        "carrier": rng.choice(CARRIERS),
        "city": rng.choice(CITIES),
        "code": rng.choice(ERROR_CODES),
        "day": rng.choice(WEEKDAYS),
        "month": rng.choice(MONTHS),
        "date": f"{rng.choice(MONTHS)} {rng.randint(1, 28)}",
        "order": rng.choice(["#", "order ", "ORD-", "#"]) + str(rng.randint(10000, 99999)),
        "invoice": f"INV-{rng.randint(2021, 2025)}-{rng.randint(1000, 9999)}",
        "amount": rng.choice(["$", "€", "£"]) + f"{amount:.2f}",
        "n": str(rng.randint(2, 6)),
        "days": str(rng.randint(3, 14)),
        "email": f"{rng.choice(FIRST_NAMES).lower()}.{rng.choice(LAST_NAMES).lower()}"
        f"@{rng.choice(['mail.com', 'example.org', 'inbox.net', 'post.io'])}",
        "version": f"{rng.randint(2, 6)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
    }


def _fill(template: str, slots: dict[str, str]) -> str:
    return template.format(**slots)


# --------------------------------------------------------------------------
# tickets.jsonl: team-specific template pools
# --------------------------------------------------------------------------
# Each team has body templates, each paired with subjects that fit it, plus a
# few team-level generic subjects and details. A greeting, an optional detail
# and a closing are attached around the core body. Some subjects are shared by
# all teams ("Need help", "Urgent"), so the subject alone is not always enough.

SHARED_SUBJECTS = [
    "Need help",
    "Urgent",
    "Problem",
    "Question",
    "Please help",
    "Issue with my order",
    "Help needed asap",
    "Still waiting for an answer",
    "Support request",
    "Hello?",
]

TICKET_POOLS: dict[str, dict] = {
    "billing": {
        "bodies": [
            (
                "I was charged {amount} twice for the {product} this month. Please refund the duplicate charge.",
                ["Double charge on my card", "Charged twice", "Duplicate payment"],
            ),
            (
                "My invoice {invoice} shows {amount} but the price on your website was lower. Can you correct the invoice?",
                ["Wrong amount on invoice", "Question about invoice {invoice}", "Invoice {invoice} is wrong"],
            ),
            (
                "I cancelled my {product} on {date} but my card was still charged {amount}. I would like a refund.",
                ["Charged after cancelling", "Refund request", "Cancelled but still billed"],
            ),
            (
                "Could you send me a proper invoice with our VAT number for {order}? Our accounting team needs it.",
                ["VAT missing on invoice", "Invoice for {order}", "Need a VAT invoice"],
            ),
            (
                "There is a charge of {amount} on my credit card statement that I don't recognise. What is it for?",
                ["Charge I don't recognise", "Unknown charge", "What is this payment?"],
            ),
            (
                "My payment keeps getting declined even though the card is valid. Can I pay the invoice by bank transfer instead?",
                ["Payment declined", "Card keeps getting declined", "Pay by bank transfer?"],
            ),
            (
                "I was billed for the annual {product} instead of monthly. Please refund the difference of {amount}.",
                ["Billed annually by mistake", "Wrong billing period", "Refund the difference please"],
            ),
            (
                "The refund for {order} was promised {days} days ago and it still hasn't appeared on my statement.",
                ["Refund not received", "Where is my refund?", "Refund for {order}"],
            ),
            (
                "Why did my subscription fee go up to {amount}? Nobody told me about a price change.",
                ["Subscription price went up?", "Price increase", "Higher fee this month"],
            ),
            (
                "I need a copy of every invoice from {month} for my expense report.",
                ["Invoices for {month}", "Copy of invoices", "Receipts needed"],
            ),
            (
                "You charged me {amount} for {product} after the free trial, but I cancelled before it ended.",
                ["Charged after free trial", "Trial charge refund", "Unexpected charge"],
            ),
            (
                "Please update the billing address on my invoices and reissue invoice {invoice}.",
                ["Billing address on invoice", "Reissue invoice {invoice}", "Invoice correction"],
            ),
            (
                "I was overcharged on invoice {invoice}: the discount code was not applied. Please credit {amount}.",
                ["Discount not applied", "Overcharged this month", "Missing discount on invoice"],
            ),
            (
                "Can I get a partial refund? I was charged for {n} seats but we only use one.",
                ["Partial refund", "Charged for {n} seats", "Too many seats billed"],
            ),
            (
                "Your payment page took {amount} from my card but the order {order} was never confirmed. Please refund.",
                ["Paid but no confirmation", "Money taken, no order", "Refund for unconfirmed order"],
            ),
            (
                "Is it possible to switch the payment method from PayPal to a credit card for the next charge?",
                ["Change payment method", "Switch from PayPal", "Payment method question"],
            ),
        ],
        "subjects": ["Billing issue", "Billing question", "Refund", "Invoice problem", "Payment problem"],
        "details": [
            "The charge is dated {date}.",
            "I pay with a Visa card.",
            "This is the second time it happened.",
            "Our finance team is waiting on this.",
            "I have attached the bank statement.",
            "The amount was {amount}.",
            "My customer number is {n}0{n}{n}.",
        ],
    },
    "technical": {
        "bodies": [
            (
                "{platform} crashes every time I open it since the update to version {version}.",
                ["App crashes on startup", "Crash after update", "App won't open"],
            ),
            (
                "I get error {code} whenever I try to save a file in {platform}. Restarting did not help.",
                ["Error {code} when saving", "Cannot save files", "Error {code}"],
            ),
            (
                "My {item} will not connect to wifi after the firmware update. The light keeps blinking red.",
                ["{item} not connecting", "Wifi connection problem", "Blinking red light"],
            ),
            (
                "The sync between {platform} and the web dashboard stopped working on {day}. Changes are not showing up.",
                ["Sync not working", "Changes not syncing", "Sync broken since {day}"],
            ),
            (
                "The dashboard page just shows a blank white screen in Chrome and Firefox.",
                ["Page won't load", "Blank dashboard", "White screen"],
            ),
            (
                "{platform} freezes for about a minute when I upload photos larger than a few megabytes.",
                ["App keeps freezing", "Upload freezes", "Freezing on upload"],
            ),
            (
                "The firmware update for my {item} failed halfway and now it will not boot at all.",
                ["Firmware update failed", "{item} won't boot", "Bricked after update"],
            ),
            (
                "Push notifications stopped working on {platform} after version {version}. Settings look correct.",
                ["Notifications not working", "No push notifications", "Notifications broken in {version}"],
            ),
            (
                "Exporting a report to PDF throws error {code} and the file is empty.",
                ["Export fails", "PDF export error", "Empty PDF export"],
            ),
            (
                "The login button on {platform} does nothing when I tap it, the spinner just loops forever.",
                ["Login screen bug", "Login button not working", "Endless spinner"],
            ),
            (
                "Bluetooth pairing with the {item} fails with error {code} on my phone.",
                ["Bluetooth pairing fails", "Cannot pair {item}", "Pairing error {code}"],
            ),
            (
                "After the latest update the app is extremely slow and the battery drains in a few hours.",
                ["App very slow", "Battery drain after update", "Performance problem"],
            ),
            (
                "The search feature returns a server error {code} for any query longer than two words.",
                ["Search is broken", "Server error in search", "Search error {code}"],
            ),
            (
                "My {item} disconnects from the hub every few minutes and the logs show timeout errors.",
                ["{item} keeps disconnecting", "Timeout errors", "Connection drops"],
            ),
            (
                "The API returns error {code} for every request since this morning, our integration is down.",
                ["API down", "API error {code}", "Integration broken"],
            ),
            (
                'The app shows the message "Something went wrong ({code})" and closes itself.',
                ["Something went wrong", "App closes by itself", "Error {code} popup"],
            ),
            (
                "Dark mode makes the text invisible on the settings screen of {platform}. Looks like a display bug.",
                ["Dark mode bug", "Invisible text in settings", "Display bug"],
            ),
        ],
        "subjects": ["Bug report", "Technical issue", "Something is broken", "Error message", "App not working"],
        "details": [
            "I already reinstalled the app.",
            "I am on version {version}.",
            "Screenshot attached.",
            "It worked fine last week.",
            "I tried two different devices.",
            "Clearing the cache did not help.",
            "It happens on {platform} too.",
        ],
    },
    "account": {
        "bodies": [
            (
                "I forgot my password and the reset link never arrives in my inbox. Can you reset it for me?",
                ["Reset my password", "Forgot password", "Reset link not arriving"],
            ),
            (
                "Please change the email on my profile from {email} to my new work address.",
                ["Change email address", "New email for my profile", "Update my email"],
            ),
            (
                "I want to delete my account and all my personal data permanently. Please confirm once done.",
                ["Delete my account", "Remove my data", "Account deletion request"],
            ),
            (
                "I lost my phone and can no longer get the two-factor authentication codes. How do I log in now?",
                ["2FA problem", "Lost phone, can't log in", "Two-factor codes"],
            ),
            (
                "My account was locked after too many sign-in attempts. Please unlock it.",
                ["Locked out of my account", "Account locked", "Unlock my account"],
            ),
            (
                "How do I change my username? The profile settings page does not let me edit it.",
                ["Update username", "Change username", "Can't edit profile"],
            ),
            (
                "I accidentally created two accounts with {email} and another address. Can you merge them?",
                ["Merge two accounts", "Duplicate accounts", "Two accounts"],
            ),
            (
                "The verification code for 2FA never arrives by SMS, so I cannot sign in.",
                ["Can't receive verification code", "No SMS code", "2FA code missing"],
            ),
            (
                "Please close my account, I no longer need it. I am {first} {last}.",
                ["Close account please", "Cancel my account", "Close my profile"],
            ),
            (
                "Our admin left the company. How do we transfer ownership of the workspace account to me?",
                ["Change account owner", "Transfer ownership", "New admin for workspace"],
            ),
            (
                "I think someone else logged into my account from {city}. Please help me secure it.",
                ["Suspicious login", "Account hacked?", "Security concern"],
            ),
            (
                "I want to remove my old phone number from my profile and add a new one for 2FA.",
                ["Remove old phone number", "New phone for 2FA", "Update phone number"],
            ),
            (
                "My account says it is suspended, but I never received any email explaining why.",
                ["Account suspended?", "Why is my account suspended", "Suspended profile"],
            ),
            (
                "Can you turn off two-factor authentication on my profile? I want to set it up again with a new authenticator app.",
                ["Disable 2FA", "Reset two-factor", "New authenticator app"],
            ),
            (
                "The password reset page says my email {email} is not registered, but I have used it for years.",
                ["Email not recognised", "Password reset problem", "Account not found"],
            ),
            (
                "Please update the name on my profile to {first} {last}, I recently got married.",
                ["Name change", "Update my name", "Change profile name"],
            ),
        ],
        "subjects": ["Account question", "Login help", "Profile settings", "Account access", "Privacy request"],
        "details": [
            "My login email is {email}.",
            "I have had this account for years.",
            "I can verify my identity if needed.",
            "I already tried the reset link twice.",
            "This is urgent, I need access today.",
            "My username is {first}{n}{n}.",
        ],
    },
    "shipping": {
        "bodies": [
            (
                "My order {order} was supposed to arrive on {day} but the tracking has not updated for {days} days.",
                ["Where is my order {order}?", "Tracking not updating", "Delivery delayed"],
            ),
            (
                "The parcel with my {item} shows as delivered but nothing arrived at my door. Can you check with {carrier}?",
                ["Parcel marked delivered but missing", "Package not received", "Delivered but not here"],
            ),
            (
                "Please change the delivery address for {order} to my office in {city} before it ships.",
                ["Change delivery address", "New address for {order}", "Ship to {city} instead"],
            ),
            (
                "The box arrived crushed and the {item} inside is damaged. I would like a replacement sent out.",
                ["Package damaged", "Crushed box", "Damaged {item}"],
            ),
            (
                "I ordered a {item} but received a completely different product in the package.",
                ["Wrong item received", "Not what I ordered", "Wrong product in package"],
            ),
            (
                "The tracking number for {order} says label created but {carrier} has not picked it up yet.",
                ["Not shipped yet", "Label created only", "Tracking for {order}"],
            ),
            (
                "My package is stuck in customs in {city}. Do I need to provide any documents?",
                ["Stuck in customs", "Customs documents", "Package held in {city}"],
            ),
            (
                "Can you send me a return label? I want to send the {item} back.",
                ["Return label needed", "Return the {item}", "How to send back"],
            ),
            (
                "Do you deliver to {city}, and how long does standard shipping usually take?",
                ["Shipping to {city}", "Delivery times", "Do you ship to {city}?"],
            ),
            (
                "I paid for express delivery but the parcel still has not shipped after {days} days.",
                ["Express delivery question", "Express not so express", "Parcel not shipped"],
            ),
            (
                "The courier from {carrier} left a note but I was home all day. How do I rebook the delivery?",
                ["Missed delivery", "Rebook delivery", "Courier didn't ring"],
            ),
            (
                "One item is missing from my order {order}, the {item} was not in the box.",
                ["Missing item in box", "Incomplete order", "{item} missing from parcel"],
            ),
            (
                "The delivery estimate for my {item} keeps moving back. When will it actually arrive?",
                ["Delivery delayed", "When will it arrive?", "Estimate keeps changing"],
            ),
            (
                "My parcel was sent back to your warehouse because the address label was wrong. Please reship it to {city}.",
                ["Parcel returned to sender", "Please reship", "Wrong address label"],
            ),
            (
                "Can I pick up my order {order} from a {carrier} point instead of home delivery?",
                ["Pickup point", "Collect instead of delivery", "Pick up {order}"],
            ),
            (
                "The tracking link for {order} shows an error page, so I have no idea where my package is.",
                ["Tracking link broken", "Where is my package?", "Can't track {order}"],
            ),
        ],
        "subjects": ["Delivery question", "Shipping issue", "Parcel problem", "Order status", "Tracking"],
        "details": [
            "I ordered it on {date}.",
            "The tracking number is {n}Z{n}{n}{n}8{n}.",
            "It was shipped with {carrier}.",
            "I live in {city}.",
            "It is a gift, so timing matters.",
            "Nobody from the courier contacted me.",
        ],
    },
}

# ~5 % harder tickets: vocabulary of another team appears, but the intent
# (and therefore the label) belongs to the stated team.
HARD_TICKETS: dict[str, list[tuple[str, str]]] = {
    "billing": [
        (
            "App problem during payment",
            "The app crashed while I was paying and now there are two charges of {amount} on my card. I only want to pay once.",
        ),
        (
            "Charged for undelivered order",
            "My parcel {order} never arrived and was returned to you, so please refund the {amount} you charged me.",
        ),
        (
            "Deleted account but still billed",
            "I deleted my account last month but you still charged my card {amount} on {date}. I want that money back.",
        ),
        (
            "Shipping fee on invoice",
            "Invoice {invoice} includes a shipping fee of {amount} although delivery was supposed to be free. Please correct it.",
        ),
        (
            "Paid for express, got standard",
            "I paid {amount} extra for express delivery but the order came by standard post. Can you refund the express fee?",
        ),
        (
            "Login issue and renewal charge",
            "I could not log in for weeks, and meanwhile the {product} renewed automatically. Please cancel and refund the renewal.",
        ),
        (
            "Tracking fee?",
            "The tracking page for {order} says everything is fine, my question is only why the receipt lists a {amount} handling fee.",
        ),
        (
            "Error but money gone",
            "I got error {code} at checkout, yet my bank shows {amount} was taken. Either complete the order or give the money back.",
        ),
    ],
    "technical": [
        (
            "Invoice page broken",
            "The invoice page in {platform} shows error {code} and a blank screen, so I cannot download anything.",
        ),
        ("Tracking widget bug", "The order tracking widget in {platform} crashes the whole app whenever I tap on it."),
        (
            "Password field bug",
            "On {platform} the password field does not accept any typing after the update, the keyboard just closes.",
        ),
        (
            "Checkout button error",
            "Clicking the pay button throws a JavaScript error {code} in the console and nothing happens. No charge was made.",
        ),
        (
            "Address form glitch",
            "The address autocomplete on the checkout form freezes the browser tab every time I type a street name.",
        ),
        (
            "2FA screen crash",
            "{platform} crashes with error {code} right after I enter the 2FA code. The code itself is accepted.",
        ),
        (
            "Refund button does nothing",
            "I want my refund, but the request refund button in {platform} does nothing when I tap it. The console shows error {code}.",
        ),
        (
            "Parcel map not loading",
            "The delivery map in {platform} never loads, it just spins. My parcel is fine, it is the map feature that is broken.",
        ),
    ],
    "account": [
        (
            "Email for invoices",
            "Please change the email address on my account so that receipts and invoices go to {email} from now on.",
        ),
        (
            "Locked out after app update",
            "After updating {platform} I was signed out and now my password is not accepted. Please reset my account access.",
        ),
        (
            "Delete account after refund",
            "My refund has already been processed, thank you. Now please delete my account and all stored data.",
        ),
        (
            "New owner for company account",
            "I am taking over billing duties from a colleague, please make me the owner of our account and remove her login.",
        ),
        (
            "Delivery email address",
            "Shipping notifications go to an old address. How do I update the email on my profile? I cannot find the setting.",
        ),
        (
            "Hacked account, strange orders",
            "Someone logged into my account and placed orders I did not make. Please lock the account and reset my password.",
        ),
        (
            "Second card holder",
            "My wife pays our invoices. Can she get her own login to the same account, with her own password?",
        ),
        (
            "Change sign-in email after move",
            "I moved to {city} and changed provider, so I need the email I sign in with changed. The delivery address is already updated.",
        ),
    ],
    "shipping": [
        (
            "Address on invoice vs delivery",
            "The invoice is correct, but the parcel for {order} is going to my old address in {city}. Please redirect the delivery.",
        ),
        (
            "Refund or reship?",
            "The {item} arrived broken in a crushed box. I'd rather have a new one shipped than a refund.",
        ),
        (
            "Device arrived dead",
            "The {item} I ordered never showed up; the tracking from {carrier} says returned to sender. Please send it again.",
        ),
        (
            "Account address not used",
            "I updated my address in my account, but order {order} still shipped to the old one. Can the courier reroute it?",
        ),
        (
            "App says delivered",
            "The app shows my package as delivered on {day} but it is not here and the neighbours don't have it either.",
        ),
        (
            "Charged for delivery but not delivered",
            "Where is my parcel? It was paid on {date} and the {carrier} tracking has been stuck at the depot since.",
        ),
        (
            "Invoice says shipped",
            "The invoice says my {item} shipped on {date}, but {carrier} has no record of the parcel. Can you find out where it is?",
        ),
        (
            "Error code on tracking",
            "The courier's SMS gave me a code {code} that I should quote for redelivery. Who can arrange a new delivery slot for me?",
        ),
    ],
}

# Very long tickets (> 400 characters), so length filters have something to drop.
LONG_TICKET_EXTRA = [
    "To give you the full picture, I have been a customer for a few years and never had a problem before, "
    "so this is really frustrating. I have already spent quite some time on the phone and in the chat, "
    "and each time I was told that someone would get back to me within a day, which did not happen. ",
    "I have tried everything suggested in your help centre articles, step by step, and I also asked a friend "
    "who works in IT to take a look, but we could not get anywhere. I would appreciate a detailed answer "
    "rather than a link to the FAQ, because I have read all of them already. ",
    "Please note that I am travelling next week and will only have limited access to email, so it would be great "
    "if this could be sorted out in the next couple of days. If you need any more information from me, such as "
    "screenshots, receipts or my customer number, just let me know and I will send it right away. ",
]


def _word_count(text: str) -> int:
    return len(text.split())


_KEEP_CAPITAL = ("I", "I'm", "I'd", "I've", "API", "PDF", "Bluetooth", "DHL", "UPS", "FedEx", "DPD", "GLS")


def _sentence(core: str) -> str:
    return core[0].upper() + core[1:]


def _with_greeting(greeting: str, core: str) -> str:
    """'Hi,' + 'My order…' -> 'Hi, my order…' (keeps 'I', acronyms and names)."""
    core = _sentence(core)
    if not greeting:
        return core
    first = core.split(" ", 1)[0]
    if greeting.endswith(",") and first not in _KEEP_CAPITAL and first not in FIRST_NAMES:
        core = core[0].lower() + core[1:]
    return f"{greeting} {core}"


def _pick_subject(rng: random.Random, team: str, specific: list[str], slots: dict[str, str]) -> str:
    r = rng.random()
    if r < 0.72:
        subject = rng.choice(specific)
    elif r < 0.88:
        subject = rng.choice(TICKET_POOLS[team]["subjects"])
    else:
        subject = rng.choice(SHARED_SUBJECTS)
    return _sentence(_fill(subject, slots))


def _compose_ticket(rng: random.Random, team: str) -> tuple[str, str]:
    pool = TICKET_POOLS[team]
    for _ in range(100):
        s = _slots(rng)
        body_t, subjects = rng.choice(pool["bodies"])
        parts = [_with_greeting(rng.choice(GREETINGS), _fill(body_t, s))]
        if rng.random() < 0.45:
            parts.append(_fill(rng.choice(pool["details"]), s))
        closing = _fill(rng.choice(CLOSINGS), s)
        if closing:
            parts.append(closing)
        body = " ".join(parts)
        if 10 <= _word_count(body) <= 40:
            return _pick_subject(rng, team, subjects, s), body
    raise RuntimeError(f"could not compose a {team} ticket within the word limits")


def _compose_hard(rng: random.Random, team: str, index: int) -> tuple[str, str]:
    subj_t, body_t = HARD_TICKETS[team][index % len(HARD_TICKETS[team])]
    s = _slots(rng)
    body = _with_greeting(rng.choice(GREETINGS), _fill(body_t, s))
    return _pick_subject(rng, team, [subj_t], s), body


def make_tickets(rng: random.Random) -> list[dict]:
    # (team, count of regular tickets); hard ones are added on top.
    plan = [("billing", 150), ("technical", 150), ("account", 135), ("shipping", 135)]
    rows: list[tuple[str, str, str]] = []  # (subject, body, team)
    seen_bodies: set[str] = set()
    for team, count in plan:
        made = 0
        while made < count:
            subject, body = _compose_ticket(rng, team)
            if body in seen_bodies:
                continue
            seen_bodies.add(body)
            rows.append((subject, body, team))
            made += 1
    # ~5 % hard examples: 8 per team (each hard template used at least once).
    for team in TEAMS:
        for i in range(8):
            subject, body = _compose_hard(rng, team, i)
            if body in seen_bodies:
                continue
            seen_bodies.add(body)
            rows.append((subject, body, team))
    rng.shuffle(rows)

    # A few very long bodies (> 400 chars): extend some existing tickets.
    # One of them lands in the first 50 rows, so tickets.csv has a long field too.
    long_idx = [rng.randrange(50)] + rng.sample(range(50, len(rows)), 5)
    for k, i in enumerate(sorted(long_idx)):
        subject, body, team = rows[i]
        extra = LONG_TICKET_EXTRA[k % len(LONG_TICKET_EXTRA)] + LONG_TICKET_EXTRA[(k + 1) % len(LONG_TICKET_EXTRA)]
        rows[i] = (subject, body + " " + extra.strip(), team)

    # A handful of exact duplicate bodies: re-submitted tickets, same team,
    # sometimes with a different subject line, inserted later in the file.
    dup_sources = rng.sample([i for i in range(len(rows)) if i not in long_idx], 8)
    for i in sorted(dup_sources):
        subject, body, team = rows[i]
        if rng.random() < 0.5:
            subject = "Re: " + subject
        pos = rng.randint(i + 1, len(rows))
        rows.insert(pos, (subject, body, team))

    return [
        {"id": 1001 + n, "subject": subject, "body": body, "team": team} for n, (subject, body, team) in enumerate(rows)
    ]


# --------------------------------------------------------------------------
# general.jsonl: guard set from a *different* template pool
# --------------------------------------------------------------------------

GENERAL_POOLS: dict[str, list[tuple[str, str]]] = {
    "billing": [
        ("Quick question", "What payment methods do you accept? I would like to know before I sign up."),
        ("General inquiry", "Do you offer a discount for students or non-profit organisations?"),
        ("Pricing", "Is the price shown on the website including tax, or is tax added at checkout?"),
        ("Question", "How can I see how much I have paid you over the last year?"),
        ("Curious", "When exactly does the monthly fee get taken from my card?"),
        ("Before I buy", "Can I pay yearly instead of monthly, and is it cheaper that way?"),
        ("Info please", "Which currencies can I pay in? I live in {city}."),
        ("Question about costs", "Are there any hidden fees if I upgrade to the {product} in the middle of the month?"),
    ],
    "technical": [
        ("Quick question", "Which browsers and operating systems does your software support?"),
        ("General inquiry", "Is there a way to use the app offline, for example on a plane?"),
        ("Compatibility", "Will the {item} work with my older phone, or does it need a recent model?"),
        ("Question", "How do I know which version of the app I have installed?"),
        ("Curious", "Do you have an API that developers can use to connect other tools?"),
        ("Before I buy", "What are the minimum system requirements for {platform}?"),
        ("Info please", "Is it normal that the {item} gets warm while it is charging?"),
        ("Setup help", "What is the recommended way to set up the {item} for the first time?"),
    ],
    "account": [
        ("Quick question", "Can two people share one profile, or does each person need their own login?"),
        ("General inquiry", "What personal data do you store about me, and where can I see it?"),
        ("Privacy", "How long do you keep my data after I stop using the service?"),
        ("Question", "Is it possible to have a username that is different from my email?"),
        ("Curious", "Which authenticator apps can I use for sign-in verification?"),
        ("Before I sign up", "Do I need a separate profile for work and personal use?"),
        ("Info please", "What happens to my saved files if I decide to leave the service?"),
        ("Security", "How do I know if a sign-in notification from you is genuine?"),
    ],
    "shipping": [
        ("Quick question", "Do you ship internationally, for example to {city}?"),
        ("General inquiry", "How long does it usually take for an order to arrive?"),
        ("Courier", "Which courier companies do you work with in my country?"),
        ("Question", "Can I choose a specific day for my order to be brought to my home?"),
        ("Curious", "Is packaging recyclable? I get quite a few boxes from you."),
        ("Before I order", "Is there a minimum order value for free postage?"),
        ("Info please", "Can someone else sign for my package if I am not at home?"),
        ("Holidays", "Will orders placed over the holidays still go out on time?"),
    ],
}


def make_general(rng: random.Random) -> list[dict]:
    prefixes = ["", "", "Hi, ", "Hello, ", "Just wondering: ", "Hey, quick one. ", "Good afternoon. "]
    suffixes = ["", "", " Thanks!", " Thank you.", " Cheers, {first}", " Many thanks."]
    rows: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for team in TEAMS:
        made = 0
        while made < 25:
            s = _slots(rng)
            subject, body = rng.choice(GENERAL_POOLS[team])
            body = _fill(rng.choice(prefixes) + body + rng.choice(suffixes), s)
            if body in seen:
                continue
            seen.add(body)
            rows.append((_fill(subject, s), body, team))
            made += 1
    rng.shuffle(rows)
    return [
        {"id": 9001 + n, "subject": subject, "body": body, "team": team} for n, (subject, body, team) in enumerate(rows)
    ]


# --------------------------------------------------------------------------
# instructions.jsonl: tiny deterministic tasks for a from-scratch model
# --------------------------------------------------------------------------

SHORT_WORDS = [
    "cat",
    "dog",
    "sun",
    "moon",
    "star",
    "tree",
    "fish",
    "bird",
    "book",
    "lamp",
    "rain",
    "snow",
    "wind",
    "fire",
    "road",
    "ship",
    "milk",
    "cake",
    "rose",
    "leaf",
    "hat",
    "cup",
    "pen",
    "box",
    "key",
    "map",
    "owl",
    "bee",
    "ant",
    "egg",
    "frog",
    "wolf",
    "bear",
    "lion",
    "door",
    "hill",
    "lake",
    "sand",
    "king",
    "gold",
    "ab",
    "xy",
    "go",
    "hi",
    "sky",
    "sea",
    "ice",
    "bell",
    "coin",
    "drum",
]


def make_instructions(rng: random.Random) -> list[dict]:
    def reverse(r):
        w = r.choice(SHORT_WORDS)
        return f"Reverse the word: {w}", w[::-1]

    def upper(r):
        w = r.choice(SHORT_WORDS)
        return f"Uppercase: {w}", w.upper()

    def add(r):
        a, b = r.randint(0, 9), r.randint(0, 9)
        return f"Add {a} and {b}", str(a + b)

    def twice(r):
        w = r.choice(SHORT_WORDS)
        return f"Repeat twice: {w}", f"{w} {w}"

    def first(r):
        w = r.choice(SHORT_WORDS)
        return f"First letter of: {w}", w[0]

    def last(r):
        w = r.choice(SHORT_WORDS)
        return f"Last letter of: {w}", w[-1]

    def length(r):
        w = r.choice(SHORT_WORDS)
        return f"Count the letters in: {w}", str(len(w))

    def join(r):
        a, b = r.sample(SHORT_WORDS, 2)
        return f"Join with a dash: {a} {b}", f"{a}-{b}"

    tasks = [reverse, upper, add, twice, first, last, length, join]
    per_task = 50  # 8 tasks x 50 = 400
    rows: list[tuple[str, str]] = []
    for task in tasks:
        seen: set[str] = set()
        made = 0
        attempts = 0
        while made < per_task:
            attempts += 1
            instruction, response = task(rng)
            # allow repeats only once the unique space is exhausted
            if instruction in seen and attempts < 2000:
                continue
            seen.add(instruction)
            rows.append((instruction, response))
            made += 1
    rng.shuffle(rows)
    return [{"instruction": i, "response": r} for i, r in rows]


# --------------------------------------------------------------------------
# prefs.jsonl: preference pairs for DPO
# --------------------------------------------------------------------------


def make_prefs(rng: random.Random) -> list[dict]:
    """300 pairs: 120 support replies, 100 arithmetic, 80 routing questions.

    The chosen answer is always polite, correct and short; the rejected one is
    rude/dismissive (support) or factually wrong (arithmetic, routing).
    """
    support_prompts = {
        "billing": [
            "I was charged twice for {product}.",
            "Can I get a refund for {order}?",
            "My invoice {invoice} looks wrong.",
            "Why was my card charged {amount}?",
        ],
        "technical": [
            "{platform} keeps crashing.",
            "I get error {code} when I save.",
            "My {item} won't connect to wifi.",
            "The app freezes after the update.",
        ],
        "account": [
            "I forgot my password.",
            "Please delete my account.",
            "I want to change my email to {email}.",
            "I can't get my 2FA code.",
        ],
        "shipping": [
            "Where is my parcel {order}?",
            "My {item} arrived damaged.",
            "Can you change my delivery address to {city}?",
            "Tracking for {order} isn't updating.",
        ],
    }
    polite = [
        "Sorry about that, {first}. I've passed this to our {team} team and they will reply within a day.",
        "Thanks for letting us know, {first}. Our {team} team is on it and will update you shortly.",
        "I'm sorry for the trouble. I've opened a {team} ticket for you and we'll fix this quickly.",
        "Thank you for reaching out. The {team} team will look into this today and get back to you.",
    ]
    rude = [
        "Not my problem. Figure it out yourself.",
        "Read the FAQ before bothering us.",
        "We're busy. Try again next month.",
        "Stop complaining, it works fine for everyone else.",
        "Whatever. Nobody here cares.",
    ]
    routing_topics = {
        "billing": ["a double charge", "a refund", "a wrong invoice", "a declined payment", "a missing receipt"],
        "technical": ["an app crash", "an error code", "a sync bug", "a failed firmware update", "a blank screen"],
        "account": ["a password reset", "an email change", "deleting an account", "a 2FA problem", "a locked profile"],
        "shipping": [
            "a late parcel",
            "a damaged delivery",
            "a tracking number",
            "a delivery address change",
            "a lost package",
        ],
    }
    routing_questions = [
        "Which team handles {topic}?",
        "Who should I contact about {topic}?",
        "Which department deals with {topic}?",
        "Where should a ticket about {topic} go?",
        "Who takes care of {topic}?",
        "I have {topic}. Which team do I ask?",
    ]

    def support():
        s = _slots(rng)
        team = rng.choice(TEAMS)
        prompt = "Customer: " + _fill(rng.choice(support_prompts[team]), s)
        return prompt, _fill(rng.choice(polite), {**s, "team": team}), rng.choice(rude)

    def math():
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        op = rng.choice(["+", "-", "x"])
        true = a + b if op == "+" else a - b if op == "-" else a * b
        wrong = true + rng.choice([-3, -2, -1, 1, 2, 3])
        return f"What is {a} {op} {b}?", f"{a} {op} {b} = {true}.", f"{a} {op} {b} = {wrong}."

    def routing():
        team = rng.choice(TEAMS)
        topic = rng.choice(routing_topics[team])
        other = rng.choice([t for t in TEAMS if t != team])
        prompt = rng.choice(routing_questions).format(topic=topic)
        return prompt, f"The {team} team handles {topic}.", f"The {other} team handles {topic}."

    rows: list[tuple[str, str, str]] = []
    for make, count in ((support, 120), (math, 100), (routing, 80)):
        seen_prompts: set[str] = set()
        while len(seen_prompts) < count:  # each kind has well over `count` distinct prompts
            prompt, chosen, rejected = make()
            if prompt in seen_prompts:  # unique prompts within each kind
                continue
            seen_prompts.add(prompt)
            rows.append((prompt, chosen, rejected))
    rng.shuffle(rows)
    return [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in rows]


# --------------------------------------------------------------------------
# rewards.jsonl: extract-the-ticket-id toy for GRPO
# --------------------------------------------------------------------------

REWARD_TEMPLATES = [
    "Ticket #{tid}: my parcel has not arrived yet.",
    "Customer wrote in ticket #{tid} about a double charge.",
    "Please look at #{tid}, the app crashes on login.",
    "#{tid} - password reset link not working",
    "Follow-up on #{tid}: {n} items still missing from the box.",
    "Escalated #{tid} because the refund is {days} days late.",
    "In #{tid} the customer from {city} asks for a new invoice.",
    "Re: #{tid} error {code} after update",
    "Closed #{tid} after {n} replies, user wants it reopened.",
    "{first} opened #{tid} about a damaged {item}.",
]


def make_rewards(rng: random.Random) -> list[dict]:
    ids = rng.sample(range(1000, 10000), 200)
    rows = []
    for tid in ids:
        s = _slots(rng)
        text = _fill(rng.choice(REWARD_TEMPLATES), {**s, "tid": str(tid)})
        rows.append({"prompt": f"Reply with the ticket id of: {text}", "answer": str(tid)})
    return rows


def make_feedback(prefs: list[dict], rng: random.Random) -> list[dict]:
    """KTO's unpaired rows: each pair's answers on their own, marked good or not, in a shuffled order."""
    rows = [
        {"prompt": p["prompt"], "completion": p[answer], "good": answer == "chosen"}
        for p in prefs
        for answer in ("chosen", "rejected")
    ]
    rng.shuffle(rows)
    return rows


# --------------------------------------------------------------------------
# chats.jsonl: multi-turn conversations ({role, content} turns), and the same
# conversations as ShareGPT ({from, value} turns) in chats-sharegpt.jsonl
# --------------------------------------------------------------------------

CHAT_ASKS = [
    lambda w, a, b: (f"Reverse the word: {w}", w[::-1]),
    lambda w, a, b: (f"Uppercase: {w}", w.upper()),
    lambda w, a, b: (f"Add {a} and {b}", str(a + b)),
    lambda w, a, b: (f"First letter of: {w}", w[0]),
    lambda w, a, b: (f"Count the letters in: {w}", str(len(w))),
]
CHAT_SYSTEM = "You answer with the result only."
CHAT_FOLLOW_UPS = ["", "Now: ", "Next. ", "One more. "]


def make_chats(rng: random.Random) -> list[dict]:
    """Conversations of one to three small tasks in a row; half open with a system turn."""
    rows = []
    for i in range(200):
        turns = [{"role": "system", "content": CHAT_SYSTEM}] if rng.random() < 0.5 else []
        for n in range(rng.randint(1, 3)):
            ask, answer = rng.choice(CHAT_ASKS)(rng.choice(SHORT_WORDS), rng.randint(0, 9), rng.randint(0, 9))
            lead = rng.choice(CHAT_FOLLOW_UPS) if n else ""
            turns += [{"role": "user", "content": lead + ask}, {"role": "assistant", "content": answer}]
        rows.append({"id": i + 1, "messages": turns})
    return rows


def as_sharegpt(chats: list[dict]) -> list[dict]:
    names = {"system": "system", "user": "human", "assistant": "gpt"}
    return [
        {"id": c["id"], "conversations": [{"from": names[t["role"]], "value": t["content"]} for t in c["messages"]]}
        for c in chats
    ]


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _csv(rows: list[dict], fields: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r[k] for k in fields})
    return buf.getvalue()


def _write(path: Path, text: str) -> None:
    # newline="" so no platform line-ending translation: bytes are identical everywhere
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def build() -> dict[str, tuple[str, list[dict]]]:
    """Return {file name: (file text, rows)}; each file has its own seeded stream."""
    tickets = make_tickets(random.Random(SEED + 1))
    general = make_general(random.Random(SEED + 2))
    instructions = make_instructions(random.Random(SEED + 3))
    prefs = make_prefs(random.Random(SEED + 4))
    rewards = make_rewards(random.Random(SEED + 5))
    feedback = make_feedback(prefs, random.Random(SEED + 6))
    chats = make_chats(random.Random(SEED + 13))
    sharegpt = as_sharegpt(chats[:60])
    head = tickets[:50]
    return {
        "tickets.jsonl": (_jsonl(tickets), tickets),
        "general.jsonl": (_jsonl(general), general),
        "instructions.jsonl": (_jsonl(instructions), instructions),
        "prefs.jsonl": (_jsonl(prefs), prefs),
        "rewards.jsonl": (_jsonl(rewards), rewards),
        "feedback.jsonl": (_jsonl(feedback), feedback),
        "tickets.csv": (_csv(head, ["id", "subject", "body", "team"]), head),
        "chats.jsonl": (_jsonl(chats), chats),
        "chats-sharegpt.jsonl": (_jsonl(sharegpt), sharegpt),
    }


def summarize(name: str, rows: list[dict]) -> str:
    lines = [f"{name}: {len(rows)} rows, fields={list(rows[0].keys())}"]
    if "team" in rows[0]:
        dist = Counter(r["team"] for r in rows)
        lines.append("  team: " + ", ".join(f"{t}={dist[t]}" for t in TEAMS))
        bodies = Counter(r["body"] for r in rows)
        dups = sum(c - 1 for c in bodies.values() if c > 1)
        long_ = sum(1 for r in rows if len(r["body"]) >= 400)
        words = [len(r["body"].split()) for r in rows if len(r["body"]) < 400]
        lines.append(
            f"  duplicate bodies={dups}, bodies >= 400 chars={long_}, words (others) min={min(words)} max={max(words)}"
        )
    if "instruction" in rows[0]:
        kinds = Counter(r["instruction"].split(":")[0].split(" ")[0] for r in rows)
        lines.append("  tasks: " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
    if "chosen" in rows[0]:
        kinds = Counter(
            "support"
            if r["prompt"].startswith("Customer:")
            else "math"
            if r["prompt"].startswith("What is")
            else "routing"
            for r in rows
        )
        lines.append("  kinds: " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="output directory (default: the folder containing this script)",
    )
    ap.add_argument("--quiet", action="store_true", help="do not print the summary")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (text, rows) in build().items():
        _write(args.out / name, text)
        if not args.quiet:
            print(summarize(name, rows))


if __name__ == "__main__":
    main()
