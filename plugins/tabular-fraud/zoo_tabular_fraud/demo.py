"""A deterministic synthetic card-transaction generator: customers, merchants, devices, countries.

Every customer has habits: a typical amount, three favourite merchant categories, a home
country, a primary online device, day-time hours. Each row carries the transaction and the
customer's profile as a fraud team's feature store would serve it (`home_country`,
`customer_primary_device`, `customer_avg_amount`, `category_share`, `txn_count_1h`,
`account_age_days`). About 1.5% of the rows are fraud, in five patterns; most are a
*deviation from the customer's own profile*, visible only by comparing columns:

- account takeover (30%): a device other than the customer's primary one, often a new one,
  and mostly a country other than the home country (`device_type` vs
  `customer_primary_device`, `country` vs `home_country`);
- unusual amount (25%): 6-15x what the customer usually spends in that category
  (`amount` vs `customer_avg_amount` and `merchant_category`);
- merchant-category shift (20%): electronics, jewellery, gift cards or crypto bought by a
  customer who never buys them (`merchant_category` x `category_share`), card not present;
- card testing (15%): bursts of 3-6 tiny card-not-present payments for digital goods or gift
  cards within minutes (`txn_count_1h` x `amount` x `card_present`);
- camouflage (10%): frauds drawn like the victim's normal spending, so no model is perfect.

Legitimate rows deviate too (travel abroad, a second device, an occasional big purchase), so
no single column gives fraud away. Columns: `transaction_id`, `customer_id` (identifiers),
`timestamp`, `amount`, `merchant_category`, `country`, `home_country`, `device_type`,
`customer_primary_device`, `card_present`, `is_new_device`, `account_age_days`,
`customer_avg_amount` (mean of the customer's earlier amounts), `category_share` (the share of
their earlier transactions in this merchant category), `txn_count_1h` (their transactions in the
hour before),
`is_fraud`. A few values are missing on purpose (first transactions have no history).

```
python -m zoo_tabular_fraud.demo --out data/     # labelled.csv, unlabelled.csv, new_transactions.csv
```
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

START = 1704067200  # 2024-01-01T00:00:00Z
DAYS = 90
DAY = 86400.0

#: name -> (amount factor, probability the card is present)
CATEGORIES = {
    "grocery": (1.0, 0.9), "restaurant": (0.8, 0.85), "fuel": (1.2, 0.9), "pharmacy": (0.7, 0.8),
    "clothing": (1.8, 0.6), "electronics": (4.0, 0.4), "travel": (6.0, 0.15), "entertainment": (1.0, 0.5),
    "digital_goods": (0.35, 0.0), "home_improvement": (2.5, 0.7), "utilities": (2.0, 0.0),
    "jewelry": (5.0, 0.6), "gift_cards": (1.5, 0.3), "crypto_exchange": (5.0, 0.0), "health": (1.5, 0.7),
}
POPULARITY = np.array([18, 14, 8, 6, 8, 4, 2, 6, 9, 4, 6, 1, 3, 1, 5], float)
RISKY = ("electronics", "jewelry", "gift_cards", "crypto_exchange")
COUNTRIES = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "CA", "MX", "BR", "IN", "JP", "AU", "SG", "AE", "NG",
             "PL", "SE", "TR", "ZA"]
COUNTRY_WEIGHTS = np.array([30, 12, 10, 9, 6, 6, 4, 6, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1], float)
ONLINE_DEVICES = ["mobile_app", "web_desktop", "web_mobile"]
POS = "pos_terminal"
#: share of fraud rows per pattern
PATTERNS = {"takeover": 0.30, "amount": 0.25, "category_shift": 0.20, "card_testing": 0.15, "camouflage": 0.10}


class _Population:
    """Customers and their habits, and the row buffers of one generated table."""

    def __init__(self, rows: int, rng):
        self.rng = rng
        self.cats = list(CATEGORIES)
        self.factor = np.array([CATEGORIES[c][0] for c in self.cats])
        self.cp_prob = np.array([CATEGORIES[c][1] for c in self.cats])
        self.pop = POPULARITY / POPULARITY.sum()
        n = self.n = max(50, rows // 20)
        self.home = rng.choice(len(COUNTRIES), n, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum())
        self.scale = np.exp(rng.normal(np.log(30.0), 0.7, n))
        young = rng.random(n) < 0.12
        self.created = np.where(young, START + rng.uniform(0, DAYS - 20, n) * DAY,
                                START - rng.uniform(60, 3000, n) * DAY)
        self.favs = np.stack([rng.choice(len(self.cats), 3, replace=False, p=self.pop) for _ in range(n)])
        self.primary = rng.choice(3, n, p=[0.5, 0.3, 0.2])
        self.activity = rng.gamma(2.0, 1.0, n)
        self.cols: dict[str, list] = {k: [] for k in ("cust", "t", "cat", "cp", "dev", "country", "new", "amount",
                                                     "fraud")}

    def add(self, cust, t, cat, cp, dev, country, new, amount, fraud):
        n = len(cust)
        for key, value in (("cust", cust), ("t", t), ("cat", cat), ("cp", cp), ("dev", dev),
                           ("country", country), ("new", new), ("amount", amount)):
            self.cols[key].append(np.broadcast_to(np.asarray(value), (n,)).copy())
        self.cols["fraud"].append(np.full(n, fraud, bool))

    def customers(self, n):
        return self.rng.choice(self.n, n, p=self.activity / self.activity.sum())

    def times(self, cust, night=False):
        rng = self.rng
        lo = np.maximum(START, self.created[cust])
        first_day = np.floor((lo - START) / DAY)
        day = first_day + np.floor(rng.random(len(cust)) * (DAYS - first_day))
        if night:
            hours = rng.integers(0, 6, len(cust))
        else:
            diurnal = np.array([1, .6, .4, .3, .3, .5, 1.5, 3, 5, 6, 6.5, 7, 7.5, 7, 6.5, 6.5, 7, 7.5, 8, 7.5, 6,
                                4.5, 3, 1.8])
            hours = rng.choice(24, len(cust), p=diurnal / diurnal.sum())
        t = START + day * DAY + hours * 3600.0 + rng.uniform(0, 3600, len(cust))
        return np.maximum(t, lo + 60)

    def abroad(self, cust):
        return (self.home[cust] + self.rng.integers(1, len(COUNTRIES), len(cust))) % len(COUNTRIES)

    def other_device(self, cust):
        return (self.primary[cust] + self.rng.integers(1, 3, len(cust))) % 3

    def habitual(self, cust, t, cat=None, fraud=False):
        """Rows drawn from each customer's habits."""
        rng, n = self.rng, len(cust)
        if cat is None:
            fav = self.favs[cust, rng.choice(3, n, p=[0.55, 0.3, 0.15])]
            cat = np.where(rng.random(n) < 0.88, fav, rng.choice(len(self.cats), n, p=self.pop))
        cp = rng.random(n) < self.cp_prob[cat]
        switch = rng.random(n) < 0.03
        dev = np.where(cp, -1, np.where(switch, self.other_device(cust), self.primary[cust]))
        travel = cat == self.cats.index("travel")
        foreign = rng.random(n) < np.where(travel, 0.25, 0.02)
        country = np.where(foreign, self.abroad(cust), self.home[cust])
        new = ~cp & ((switch & (rng.random(n) < 0.3)) | (rng.random(n) < 0.005))
        amount = self.scale[cust] * self.factor[cat] * np.exp(rng.normal(0, 0.5, n))
        self.add(cust, t, cat, cp, dev, country, new, amount, fraud)


def generate(rows: int = 40000, seed: int = 0, fraud_rate: float = 0.015):
    """A `pyarrow.Table` of `rows` transactions (about `fraud_rate` fraud), sorted by time."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    p = _Population(rows, rng)
    cats = p.cats
    n_fraud = max(10, int(round(rows * fraud_rate)))
    n_legit = rows - n_fraud

    # legitimate spending, plus 4% "spree" companions: a few payments close together
    n_spree = int(n_legit * 0.04)
    cust = p.customers(n_legit - n_spree)
    t = p.times(cust)
    p.habitual(cust, t)
    pick = rng.integers(0, len(cust), n_spree)
    p.habitual(cust[pick], t[pick] + rng.uniform(120, 2400, n_spree))

    counts = {k: int(round(v * n_fraud)) for k, v in PATTERNS.items()}
    counts["camouflage"] = n_fraud - sum(v for k, v in counts.items() if k != "camouflage")
    # account takeover: another device (often new), mostly abroad
    n = counts["takeover"]
    c = p.customers(n)
    cat = rng.choice(len(cats), n, p=p.pop)
    country = np.where(rng.random(n) < 0.7, p.abroad(c), p.home[c])
    p.add(c, p.times(c), cat, False, p.other_device(c), country, rng.random(n) < 0.5,
          p.scale[c] * p.factor[cat] * np.exp(rng.normal(0.5, 0.5, n)), True)
    # unusual amount for the customer (in a category they use)
    n = counts["amount"]
    c = p.customers(n)
    cat = p.favs[c, rng.integers(0, 3, n)]
    cp = rng.random(n) < 0.4
    p.add(c, p.times(c), cat, cp, np.where(cp, -1, p.primary[c]), p.home[c], False,
          p.scale[c] * p.factor[cat] * rng.uniform(5, 12, n), True)
    # merchant-category shift: a risky category the customer never buys
    n = counts["category_shift"]
    c = p.customers(n)
    risky = np.array([cats.index(x) for x in RISKY])
    cat = np.empty(n, int)
    for i, ci in enumerate(c):
        options = [r for r in risky if r not in p.favs[ci]]
        cat[i] = rng.choice(options)
    p.add(c, p.times(c), cat, False, p.primary[c], p.home[c], False,
          p.scale[c] * p.factor[cat] * np.exp(rng.normal(0.3, 0.4, n)), True)
    # card testing: bursts of 3-6 tiny payments
    left = counts["card_testing"]
    while left > 0:
        k = int(min(left, rng.integers(3, 7)))
        c = np.full(k, p.customers(1)[0])
        t0 = p.times(c[:1], night=rng.random() < 0.6)[0]
        cat = np.where(rng.random(k) < 0.7, cats.index("digital_goods"), cats.index("gift_cards"))
        country = p.abroad(c[:1])[0] if rng.random() < 0.3 else p.home[c[0]]
        p.add(c, t0 + np.sort(rng.uniform(0, 1800, k)), cat, False, rng.integers(0, 3), country,
              rng.random() < 0.4, np.round(rng.uniform(0.5, 4.99, k), 2), True)
        left -= k
    # camouflage: like the victim's normal spending
    n = counts["camouflage"]
    c = p.customers(n)
    p.habitual(c, p.times(c), fraud=True)

    data = {k: np.concatenate(v) for k, v in p.cols.items()}
    order = np.lexsort((data["cust"], data["t"]))
    data = {k: v[order] for k, v in data.items()}
    n_rows = len(order)
    cust, t = data["cust"], data["t"]
    amount = np.maximum(np.round(data["amount"], 2), 0.5)
    avg, count_1h, share = _history_features(cust, t, amount, data["cat"].astype(int), len(cats))
    age = np.round((t - p.created[cust]) / DAY, 1)
    devices = np.array(ONLINE_DEVICES + [POS], dtype=object)
    dev = data["dev"].astype(int)
    device = np.where(data["cp"], POS, devices[np.where(dev < 0, 0, dev)])

    miss = np.random.default_rng(seed + 1)
    device = np.where(miss.random(n_rows) < 0.01, None, device)
    age = np.where(miss.random(n_rows) < 0.005, np.nan, age)
    country_names = np.array(COUNTRIES, dtype=object)
    cat_names = np.array(cats, dtype=object)
    return pa.table({
        "transaction_id": [f"T{i:07d}" for i in range(1, n_rows + 1)],
        "customer_id": [f"C{c:05d}" for c in cust],
        "timestamp": pa.array(np.floor(t).astype("int64"), pa.timestamp("s")),
        "amount": amount,
        "merchant_category": cat_names[data["cat"].astype(int)].tolist(),
        "country": country_names[data["country"].astype(int)].tolist(),
        "home_country": country_names[p.home[cust]].tolist(),
        "device_type": pa.array(device.tolist(), pa.string()),
        "customer_primary_device": devices[p.primary[cust]].tolist(),
        "card_present": data["cp"].astype(bool),
        "is_new_device": data["new"].astype(bool) & ~data["cp"].astype(bool),
        "account_age_days": pa.array(age, pa.float64(), from_pandas=True),
        "customer_avg_amount": pa.array(avg, pa.float64(), from_pandas=True),
        "category_share": pa.array(share, pa.float64(), from_pandas=True),
        "txn_count_1h": count_1h.astype("int64"),
        "is_fraud": data["fraud"].astype("int64"),
    })


def _history_features(cust: np.ndarray, t: np.ndarray, amount: np.ndarray, cat: np.ndarray, n_cats: int):
    """Per row, from the customer's earlier rows: mean amount (NaN at first), count in the last hour,
    share of them in this row's merchant category (NaN at first)."""
    n = len(cust)
    avg = np.full(n, np.nan)
    count = np.zeros(n, int)
    share = np.full(n, np.nan)
    order = np.lexsort((t, cust))
    c_sorted = cust[order]
    starts = np.flatnonzero(np.r_[True, c_sorted[1:] != c_sorted[:-1]])
    ends = np.r_[starts[1:], n]
    for s, e in zip(starts, ends):
        idx = order[s:e]
        tt, aa = t[idx], amount[idx]
        csum = np.cumsum(aa)
        k = np.arange(1, len(idx))
        avg[idx[1:]] = np.round(csum[:-1] / k, 2)
        first = np.searchsorted(tt, tt - 3600.0, side="right")
        count[idx] = np.arange(len(idx)) - first
        seen = np.cumsum(np.eye(n_cats, dtype=int)[cat[idx]], axis=0)
        share[idx[1:]] = np.round(seen[np.arange(len(idx) - 1), cat[idx[1:]]] / k, 3)
    return avg, count, share


def write_files(out: str | Path, rows: int = 40000, seed: int = 0, labelled_fraction: float = 0.1,
                val_fraction: float = 0.15, test_fraction: float = 0.15, new_rows: int = 200) -> dict[str, Path]:
    """Write the demo as a user would have it: `unlabelled.csv` (no label column), `labelled.csv`
    (the labelled rows), and `new_transactions.csv` (unlabelled rows to score with `zoo predict`).

    The split is the plugin's demo split (stratified, `seed`), so `unlabelled.csv` holds no
    validation or test row.
    """
    from pyarrow import csv

    from zoo_tabular_fraud.data import demo_parts

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table, parts = demo_parts(rows, seed, "stratified", labelled_fraction, val_fraction, test_fraction)
    labelled = np.sort(np.concatenate([parts["train"], parts["validation"], parts["test"]]))
    pool = table.take(parts["unlabelled"]).drop_columns(["is_fraud"])
    new = table.take(np.sort(parts["test"])[:new_rows]).drop_columns(["is_fraud"])
    paths = {"labelled": out / "labelled.csv", "unlabelled": out / "unlabelled.csv",
             "new": out / "new_transactions.csv"}
    csv.write_csv(table.take(labelled), paths["labelled"])
    csv.write_csv(pool, paths["unlabelled"])
    csv.write_csv(new, paths["new"])
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write the tabular-fraud demo transactions as CSV files.")
    parser.add_argument("--out", default="data", help="output folder (default: data/)")
    parser.add_argument("--rows", type=int, default=40000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--labelled-fraction", type=float, default=0.1)
    args = parser.parse_args(argv)
    for name, path in write_files(args.out, args.rows, args.seed, args.labelled_fraction).items():
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(path)
        fraud = f", {sum(table.column('is_fraud').to_pylist())} fraud" if "is_fraud" in table.column_names else ""
        print(f"{path}: {table.num_rows} rows{fraud}")  # noqa: T201 (a command-line tool)


if __name__ == "__main__":
    main()
