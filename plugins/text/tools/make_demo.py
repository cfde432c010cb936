"""Write the text plugin's demo data sets (run once; the output is shipped as package data).

    python plugins/text/tools/make_demo.py

- `zoo_text/data/topics.csv`: 320 short English texts written for keras-zoo, columns `text`, `topic`
  (sports, food, technology, weather) and `sentiment` (positive, negative). The sentence frames are
  shared by all topics, so the topic is carried only by the thing the text talks about, and most of
  those things occur once or twice: a model must know what the words mean to generalise to unseen
  ones (which is what the transfer-learning test measures).
- `zoo_text/data/ner.conll`: 300 sentences in CoNLL format (token, space, BIO tag), entity types
  PER, LOC and ORG, about a tenth of the sentences without any entity.

Everything is generated from the lists below with a fixed seed: re-running gives identical files.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "zoo_text" / "data"

TOPICS = {
    "sports": [
        "the marathon", "the penalty shootout", "our volleyball team", "the tennis final", "the cricket match",
        "the new goalkeeper", "the cycling race", "the swimming relay", "the boxing bout", "the rugby league",
        "the ski jump", "the golf tournament", "the hockey game", "the baseball season", "the basketball playoffs",
        "the wrestling championship", "the rowing regatta", "the badminton semi-final", "the hundred metre sprint",
        "the coach's tactics", "the referee's decision", "the derby at the stadium", "the halftime score",
        "the archery contest", "the triathlon", "the surfing competition", "the fencing duel",
        "the table tennis league", "the horse race", "the bouldering session", "the judo tournament",
        "the handball squad", "the pole vault final", "the league table", "the transfer of our striker",
        "the world cup qualifier", "the olympic trials", "the figure skating programme", "the water polo match",
        "the karate grading", "the squash ladder", "the decathlon", "the cross-country run", "the snooker final",
        "the darts championship", "the gymnastics routine", "the softball game", "the ice hockey playoffs",
        "the home team's defence", "the football training", "the record-breaking long jump",
        "the away game", "the national cup", "the rally car stage", "the motorbike grand prix",
        "the weightlifting event", "the canoe slalom", "the netball team", "the lacrosse match",
        "the kickboxing class",
    ],
    "food": [
        "the lasagna", "the sourdough bread", "the mushroom risotto", "the ramen", "the chocolate cake",
        "the vegetable curry", "the sushi platter", "the pancakes", "the lemon tart", "the grilled salmon",
        "the tomato soup", "the falafel wrap", "the dumplings", "the apple pie", "the cheese omelette",
        "the spicy tacos", "the pesto pasta", "the beef stew", "the fruit salad", "the croissants",
        "the paella", "the barbecue ribs", "the pumpkin pie", "the garlic naan", "the espresso at the new cafe",
        "the vanilla ice cream", "the roast chicken", "the lentil soup", "the pizza from the corner shop",
        "the strawberry jam", "the noodle salad", "the kebab", "the brownies", "the fish and chips",
        "the green smoothie", "the cinnamon rolls", "the dim sum", "the waffles", "the chili con carne",
        "the tiramisu", "the goulash", "the carrot cake", "the pad thai", "the shepherd's pie",
        "the banana bread", "the clam chowder", "the hummus", "the steak", "the poached eggs",
        "the blueberry muffins", "the mango chutney", "the pork buns", "the baked potatoes",
        "the caesar salad", "the meatballs", "the porridge", "the cheesecake", "the spring rolls",
        "the french toast", "the minestrone",
    ],
    "technology": [
        "the new laptop", "the smartphone update", "the wireless earbuds", "the operating system upgrade",
        "the smartwatch", "the home router", "the graphics card", "the password manager",
        "the cloud backup service", "the e-reader", "the mechanical keyboard", "the software release",
        "the banking app", "the printer driver", "the solid state drive", "the video call software",
        "the tablet", "the gaming console", "the charging cable", "the web browser", "the spreadsheet program",
        "the antivirus scan", "the bluetooth speaker", "the camera firmware", "the streaming stick",
        "the fitness tracker", "the curved monitor", "the search engine", "the code editor",
        "the database server", "the chatbot", "the robot vacuum", "the VR headset", "the 3D printer",
        "the USB hub", "the new programming language", "the phone battery", "the webcam",
        "the smart thermostat", "the wifi extender", "the noise-cancelling headphones", "the desktop computer",
        "the file sync tool", "the touchscreen", "the open source library", "the processor upgrade",
        "the electric toothbrush app", "the satellite internet", "the photo editing software",
        "the cloud storage plan", "the drone's controller", "the laptop fan", "the operating system installer",
        "the email client", "the voice assistant", "the memory card", "the network switch",
        "the compiler", "the security patch", "the fibre broadband",
    ],
    "weather": [
        "the thunderstorm", "the heatwave", "the morning fog", "the snowfall", "the drizzle", "the hailstorm",
        "the forecast for the weekend", "the humidity", "the cold front", "the sunshine", "the strong wind",
        "the frost", "the rainy season", "the hurricane warning", "the autumn breeze", "the blizzard",
        "the temperature drop", "the clear sky", "the monsoon rain", "the flood warning", "the dry spell",
        "the rainbow after the shower", "the icy roads", "the spring showers", "the overcast sky",
        "the tornado watch", "the mild winter", "the summer storm", "the dew on the grass", "the gale",
        "the sleet", "the drought", "the cloudburst", "the sea mist", "the UV index", "the frosty night",
        "the warm front", "the weather radar", "the pollen count", "the lightning", "the snowstorm",
        "the chilly evening", "the tropical storm", "the heavy rain", "the early frost", "the hot afternoon",
        "the black ice", "the damp weather", "the windchill", "the sandstorm", "the thaw",
        "the barometric pressure", "the freezing rain", "the sunny spell", "the cyclone", "the muggy night",
        "the first snow of the year", "the storm surge", "the misty dawn", "the typhoon",
    ],
}

POSITIVE = ["fantastic", "delightful", "really impressive", "better than I expected", "wonderful", "excellent",
            "lovely", "brilliant", "superb", "a pleasant surprise", "great fun", "amazing"]
NEGATIVE = ["disappointing", "awful", "a total letdown", "worse than I expected", "frustrating", "terrible",
            "dreadful", "a waste of time", "annoying", "really poor", "a nightmare", "miserable"]
POSITIVE_SIMPLE = ["good", "great", "enjoyable", "impressive", "pleasant", "nice"]
NEGATIVE_SIMPLE = ["bad", "dull", "annoying", "disappointing", "boring", "unpleasant"]

FRAMES = [
    "Honestly, {thing} was {judge}.",
    "I thought {thing} was {judge}.",
    "Everyone at work agreed that {thing} was {judge}.",
    "My sister said {thing} was {judge} this time.",
    "Last night {thing} was {judge}.",
    "Can you believe {thing} was so {simple}?",
    "We talked about {thing} for hours; it was {judge}.",
    "Not going to lie, {thing} was {judge}.",
    "The review called {thing} {judge}.",
    "Nobody expected {thing} to be {judge}.",
    "According to my neighbour, {thing} was {judge}.",
    "{Thing} was {judge}, to be honest.",
    "Today {thing} felt {simple}.",
    "Once again {thing} was {judge}.",
    "I have to say {thing} was {simple}.",
    "Between you and me, {thing} was {judge}.",
]

FIRST = ["Maria", "John", "Aisha", "Kenji", "Lucas", "Olga", "Pedro", "Fatima", "Liam", "Sofia", "Chen", "Amara",
         "David", "Ingrid", "Ravi", "Elena", "Tom", "Yuki", "Omar", "Hannah", "Mateo", "Zara", "Peter", "Nadia",
         "Samuel", "Leila", "Anders", "Grace", "Ivan", "Chloe", "Kwame", "Emma", "Diego", "Priya", "Felix",
         "Mei", "Jonas", "Clara", "Hugo", "Rosa"]
LAST = ["Garcia", "Smith", "Okafor", "Tanaka", "Silva", "Ivanova", "Costa", "Haddad", "Murphy", "Rossi", "Wang",
        "Mensah", "Cohen", "Larsen", "Patel", "Popescu", "Brown", "Sato", "Farouk", "Schmidt", "Lopez", "Khan",
        "Novak", "Haddadi", "Owusu", "Jensen", "Moreau", "Kowalski", "Nguyen", "Fischer", "Ali", "Dubois",
        "Andersson", "Reyes", "Yilmaz", "Kim", "Walsh", "Bianchi", "Horvat", "Lindqvist"]
LOCATIONS = ["Paris", "Lagos", "Tokyo", "New York", "Buenos Aires", "Cape Town", "Berlin", "Mumbai", "Toronto",
             "Oslo", "Cairo", "Lima", "Seoul", "Madrid", "Nairobi", "Sydney", "Istanbul", "Vienna", "Hanoi",
             "Chicago", "Lisbon", "Dublin", "Accra", "Rio de Janeiro", "Kyoto", "Warsaw", "Prague", "Manila",
             "Santiago", "Helsinki", "Marrakesh", "San Francisco", "Athens", "Bangkok", "Montreal", "Zurich",
             "Kenya", "Brazil", "Norway", "Vietnam", "Portugal", "Canada", "Egypt", "New Zealand", "Scotland",
             "the Alps", "the Sahara", "Lake Geneva"]
ORGS = ["Northwind Bank", "Bluebird Airlines", "Acme Robotics", "the United Nations", "the Red Cross",
        "Greenfield University", "Orion Motors", "Sunrise Media", "Vertex Pharmaceuticals", "Harbor Logistics",
        "the World Health Organization", "Maple Insurance", "Atlas Steel", "Nimbus Software", "Riverside Hospital",
        "the Central Bank", "Polar Energy", "Crescent Foods", "Summit Telecom", "Falcon Security",
        "the City Council", "Redwood Capital", "Oakridge School", "Pioneer Books", "Lighthouse Records",
        "Granite Construction", "Evergreen Foundation", "Quantum Labs", "the Football Association",
        "Silverline Trains", "Aurora Hotels", "Cobalt Mining", "Meridian News", "Horizon Shipping",
        "the Science Museum", "Kestrel Games"]

NER_FRAMES = [
    "{PER} moved to {LOC} last year .",
    "{PER} works for {ORG} in {LOC} .",
    "{ORG} opened a new office in {LOC} .",
    "Yesterday {PER} met {PER} at the {ORG} headquarters .",
    "The mayor of {LOC} praised {ORG} on Friday .",
    "{PER} said the weather in {LOC} was lovely .",
    "Shares of {ORG} rose after {PER} resigned .",
    "We flew from {LOC} to {LOC} on Monday .",
    "{PER} and {PER} founded {ORG} in 2009 .",
    "A spokesperson for {ORG} declined to comment .",
    "{PER} visited {LOC} with her family .",
    "{ORG} hired {PER} as chief engineer .",
    "According to {ORG} , prices in {LOC} will fall .",
    "{PER} is the new coach of the team from {LOC} .",
    "The report by {ORG} was published in {LOC} .",
    "After the meeting , {PER} called {PER} .",
    "{PER} studied law in {LOC} before joining {ORG} .",
    "Thousands of fans welcomed {PER} in {LOC} .",
    "{ORG} and {ORG} signed a deal on Tuesday .",
    "Tourists in {LOC} love the old harbour .",
    "{PER} wrote a book about {LOC} .",
    "The train from {LOC} arrived two hours late .",
    "{ORG} will sponsor the festival in {LOC} .",
    "Police in {LOC} thanked {PER} for her help .",
    "{PER} left {ORG} after ten years .",
    "Nothing much happened in the village today .",
    "I bought a new bike on Tuesday .",
    "The soup was too salty for my taste .",
    "It rained all afternoon and the match was cancelled .",
    "Our neighbours painted their fence green .",
]


def _person(rng: random.Random) -> list[str]:
    if rng.random() < 0.3:
        return [rng.choice(FIRST)]
    return [rng.choice(FIRST), rng.choice(LAST)]


def make_topics(rng: random.Random, per_class: int = 80) -> list[dict]:
    rows = []
    for topic, things in TOPICS.items():
        pool: list[str] = []
        while len(pool) < per_class:
            batch = list(things)
            rng.shuffle(batch)
            pool.extend(batch)
        for i, thing in enumerate(pool[:per_class]):
            positive = i % 2 == 0
            frame = rng.choice(FRAMES)
            judge = rng.choice(POSITIVE if positive else NEGATIVE)
            simple = rng.choice(POSITIVE_SIMPLE if positive else NEGATIVE_SIMPLE)
            text = frame.format(thing=thing, Thing=thing[0].upper() + thing[1:], judge=judge, simple=simple)
            rows.append({"text": text, "topic": topic, "sentiment": "positive" if positive else "negative"})
    rng.shuffle(rows)
    return rows


def make_ner(rng: random.Random, n: int = 300) -> list[list[tuple[str, str]]]:
    sentences = []
    for _ in range(n):
        frame = rng.choice(NER_FRAMES)
        words: list[tuple[str, str]] = []
        for piece in frame.split():
            if piece.startswith("{") and piece.endswith("}"):
                kind = piece[1:-1]
                if kind == "PER":
                    span = _person(rng)
                elif kind == "LOC":
                    span = rng.choice(LOCATIONS).split()
                else:
                    span = rng.choice(ORGS).split()
                if span[0] == "the":  # "the United Nations": the article is not part of the entity
                    if not words or words[-1][0].lower() != "the":
                        words.append(("the" if words else "The", "O"))
                    span = span[1:]
                words.extend((w, ("B-" if j == 0 else "I-") + kind) for j, w in enumerate(span))
            else:
                words.append((piece, "O"))
        sentences.append(words)
    return sentences


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20260101)
    rows = make_topics(rng)
    with open(OUT / "topics.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "topic", "sentiment"])
        writer.writeheader()
        writer.writerows(rows)
    sentences = make_ner(rng)
    with open(OUT / "ner.conll", "w", encoding="utf-8") as fh:
        for words in sentences:
            fh.write("".join(f"{w} {t}\n" for w, t in words) + "\n")
    print(f"wrote {len(rows)} texts and {len(sentences)} sentences to {OUT}")


if __name__ == "__main__":
    main()
