"""A marketplace moderation pool for the demo: 200 listings that read like real ones, 20 of them golden."""

from __future__ import annotations

import random
from decimal import Decimal

from tasks.importing import TaskRow

LABELS = ["OK", "Restricted", "Adult", "Prohibited", "Task error"]

INSTRUCTIONS = """Decide whether each marketplace listing may stay up.

OK: an ordinary item that any adult may buy and sell here.
Restricted: legal but age- or licence-restricted goods (alcohol, tobacco and vapes, knives, prescription-only medicines, fireworks).
Adult: sexual products or explicit content.
Prohibited: goods that may never be sold here (weapons and ammunition, drugs, counterfeits, wildlife products, stolen documents).
Task error: the listing cannot be judged (empty, unreadable, or not a listing at all).

Judge the item, not the seller's spelling. When unsure between OK and Restricted, choose Restricted."""

COUNTRIES = ["DE", "FR", "PL", "ES", "IT", "NL", "SE", "US", "GB", "RO", "PT", "CZ", "TR", "UA", "BR", "IN"]

OK_ITEMS = [
    (
        "IKEA Poäng armchair, birch veneer",
        "Light wear on the cushion, no stains. Pickup only, I can help load.",
        45,
        90,
    ),
    (
        "iPhone 12 64GB blue, unlocked",
        "Battery health 86%. Small scratch on the frame, screen perfect. Box and cable.",
        210,
        320,
    ),
    (
        "Kids' bicycle 16 inch with stabilisers",
        "My son outgrew it. New tyres last spring, bell works.",
        35,
        70,
    ),
    ("Le Creuset casserole 24cm, volcanic orange", "Used twice, no chips in the enamel.", 120, 180),
    (
        "Lego Technic 42115 Lamborghini Sián",
        "Complete with manual, built once, kept away from sun.",
        260,
        340,
    ),
    ("Winter jacket North Face, size M", "Warm down jacket, zip replaced by a tailor last year.", 60, 110),
    ("Set of 6 wine glasses, Riedel", "No chips. Selling because we are moving.", 30, 55),
    ('Samsung 55" QLED TV, 2021', "Works perfectly, remote and stand included. No wall mount.", 300, 420),
    ("Harry Potter books 1-7, paperback", "Read once, spines a little creased.", 25, 45),
    ("Dyson V11 cordless vacuum", "Battery holds about 40 minutes. All attachments.", 180, 260),
    ("Acoustic guitar Yamaha F310", "Good beginner guitar, new strings, soft case.", 70, 110),
    ("Garden table with 4 chairs, teak", "Oiled every year, sturdy. Buyer collects.", 150, 240),
    ("Nintendo Switch OLED, white", "With two games and a protective case.", 230, 290),
    ("Baby stroller Bugaboo Fox 2", "Complete with rain cover and cup holder.", 350, 480),
    ("Hand-knitted wool scarf", "Merino, 180cm, grey. Made by my grandmother.", 15, 30),
    ("Canon EOS 250D with 18-55mm lens", "Shutter count about 4,000. Charger and bag included.", 380, 470),
]
RESTRICTED_ITEMS = [
    ("Johnnie Walker Blue Label 0.7L, sealed", "Gift I will not open. Sealed bottle with box.", 140, 190),
    ("Hunting knife with 12cm fixed blade", "Stainless steel, leather sheath. Buyer must be 18+.", 40, 80),
    ("Vape starter kit with 10 pods", "Unused pods, assorted flavours.", 20, 35),
    ("Box of 20 Cuban cigars, Cohiba", "Stored in a humidor, box sealed.", 300, 420),
    ("Fireworks assortment, category F2", "New Year leftovers, stored dry.", 25, 60),
    ("Ibuprofen 800mg, 3 packs", "Prescription packs, unopened, expire next year.", 10, 20),
    ("Craft beer advent calendar, 24 bottles", "Unopened Christmas calendar.", 45, 70),
    ("Air rifle 4.5mm, under 7.5 joules", "Comes with 500 pellets and a scope.", 90, 150),
]
ADULT_ITEMS = [
    ("Adult toy set, unopened", "Brand new in sealed packaging, discreet shipping.", 20, 60),
    ("Erotic photo book, collector's edition", "Explicit content, 18+ only. Hardcover.", 30, 70),
    ("Lingerie set with accessories (adult)", "Explicit product photos on request.", 25, 50),
]
PROHIBITED_ITEMS = [
    ("Glock 19 pistol with two magazines", "No paperwork needed, meet in person.", 600, 900),
    ("Rolex Submariner, perfect copy", "AAA replica, looks identical to the original.", 150, 250),
    ("Ivory carving, antique elephant", "Genuine ivory, from an old collection.", 400, 900),
    ("Cannabis edibles, 10 x 50mg", "Homemade gummies, strong.", 40, 80),
    ("EU passport template, editable", "High quality scan, any name can be filled in.", 100, 300),
    ("9mm ammunition, 200 rounds", "Sealed boxes, shipping possible.", 80, 140),
    ("Oxycodone 30mg tablets", "Without prescription, discreet.", 100, 200),
]
ERROR_ITEMS = [
    ("asdfgh", "", 1, 1),
    ("test listing please ignore", "test test test", 0, 0),
    ("", "Looking for a flatmate in Berlin, room from March, write me.", 0, 0),
    ("Photo", "See photo", 0, 0),
]

GROUPS = [
    ("OK", OK_ITEMS, 120),
    ("Restricted", RESTRICTED_ITEMS, 34),
    ("Adult", ADULT_ITEMS, 14),
    ("Prohibited", PROHIBITED_ITEMS, 22),
    ("Task error", ERROR_ITEMS, 10),
]
CONDITIONS = ["", " (like new)", " - used", " *price negotiable*", " - must go this week", " (2 available)"]


def demo_rows(*, seed: int = 7, golden: int = 20) -> list[TaskRow]:
    """200 listings in a fixed shuffled order; `golden` of them carry their true label as golden answers."""
    rng = random.Random(seed)
    listings: list[tuple[str, dict[str, str]]] = []
    for label, items, count in GROUPS:
        for i in range(count):
            title, description, low, high = items[i % len(items)]
            price = Decimal(rng.randint(low * 100, high * 100)) / 100 if high else Decimal(0)
            listings.append(
                (
                    label,
                    {
                        "title": (title + rng.choice(CONDITIONS)).strip() if title else "",
                        "description": description,
                        "price": f"{price:.2f} EUR",
                        "seller_country": rng.choice(COUNTRIES),
                    },
                )
            )
    rng.shuffle(listings)
    golden_indexes = set(rng.sample(range(len(listings)), golden))
    return [
        TaskRow(data=data, golden=label if i in golden_indexes else None, external_id=f"listing-{1000 + i}")
        for i, (label, data) in enumerate(listings)
    ]
