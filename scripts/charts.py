#!/usr/bin/env python3
"""Draw the root README's benchmark charts as SVG, from benches/results/.

    python3 scripts/charts.py           # write docs/charts/{cost,attack,spray}.svg
    python3 scripts/charts.py --check   # exit 1 if a committed chart is stale or missing

Inputs (benches/results/): instructions.txt (stdout of `bash benches/instructions.sh`),
attack-latency.tsv and attack-spray.tsv (tab-separated, one header line, '#' lines ignored).

The SVG is written by hand, not by a plotting library, so that the same inputs
always give the same bytes: the charts are committed, and --check can tell a
stale chart from a fresh one by comparing bytes.
"""
import argparse
import math
import sys
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 760
FONT = "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"
INK, MUTED, GRID = "#1f2937", "#4b5563", "#e5e7eb"
OURS, PEER = "#d9480f", "#9ca3af"
HALO = {"stroke": "#ffffff", "stroke_width": 3, "paint_order": "stroke"}  # keeps text readable over lines

COST = [  # (heading, group in instructions.txt, [(scenario, label)]): drawn in this order
    ("Security headers", "headers", [
        ("ours-web", "tower-claude web() (12 headers)"),
        ("tower-http-7x-set-header", "tower-http 7× SetResponseHeader"),
        ("http-security-headers-strict", "http-security-headers strict (9)")]),
    ("Bearer auth", "auth", [
        ("ours-plaintext", "tower-claude, plaintext key"),
        ("ours-bcrypt-cached", "tower-claude, bcrypt key (cached)"),
        ("tower-http-bearer", "tower-http bearer (no constant-time compare)")]),
    ("Rate limit", "ratelimit", [
        ("ours", "tower-claude (5 header fields)"),
        ("tower-governor-headers", "tower_governor (2 fields)"),
        ("axum-governor", "axum-governor (5 fields)")]),
    ("Full stack (headers → rate limit → auth)", "stack", [
        ("ours", "tower-claude stack"),
        ("peers", "tower-http + tower_governor + tower-http bearer")]),
]
SCENARIOS = [  # attack-latency.tsv scenario -> bar colour: ours in shades of OURS, the peer in greys
    ("ours, no flood", "#a8380b"), ("ours, flood from 1 address", OURS),
    ("ours, flood from 20 addresses", "#ffa94d"),
    ("naive peer, no flood", "#6b7280"), ("naive peer, flood from 20 addresses", "#c4c9d0")]
PROBES = ["/health", "cached token", "first use"]


class InputError(Exception):
    """A missing or malformed results file: one line on stderr and exit 2, no traceback."""


def num(x):
    # A tenth of a pixel is below what anyone sees, and rounding there keeps
    # float noise out of the bytes.
    s = f"{x:.1f}".removesuffix(".0")
    return "0" if s == "-0" else s


def attrs(**kw):
    return "".join(f' {k.replace("_", "-")}="{num(v) if isinstance(v, (int, float)) else v}"'
                   for k, v in kw.items() if v is not None)


def rect(x, y, w, h, fill, **kw):
    return f"<rect{attrs(x=x, y=y, width=w, height=h, fill=fill, **kw)}/>"


def line(x1, y1, x2, y2, stroke=GRID, **kw):
    return f"<line{attrs(x1=x1, y1=y1, x2=x2, y2=y2, stroke=stroke, **kw)}/>"


def text(x, y, s, size=None, anchor=None, bold=False, fill=INK, **kw):
    weight = "bold" if bold else None
    return (f"<text{attrs(x=x, y=y, font_size=size, text_anchor=anchor, font_weight=weight, fill=fill, **kw)}>"
            f"{escape(s)}</text>")


def text_width(s, size=12):
    # No font metrics without a renderer: 0.6 em a character is wider than
    # most sans-serif text, so the layout errs towards spare room.
    return len(s) * size * 0.6


def swatch(x, y, colour, label):
    return [rect(x, y - 10, 12, 12, colour, rx=2), text(x + 18, y, label)]


def document(title, height, body, defs=""):
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{num(height)}" '
            f'viewBox="0 0 {WIDTH} {num(height)}" role="img" font-family="{FONT}" font-size="12">')
    # The white background keeps the dark text readable in a dark-mode README.
    parts = [head, f"<title>{escape(title)}</title>", defs, rect(0, 0, WIDTH, height, "#ffffff"),
             text(16, 28, title, size=16, bold=True), *body, "</svg>", ""]
    return "\n".join(p for p in parts if p)


def fmt_ms(v):
    # About as many digits as the measurement has: 0.04, 1.2, 260, 3,770.
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}".removesuffix(".0") if v >= 1 else f"{v:.2f}".rstrip("0").rstrip(".")


def fmt_decade(e):
    return f"{10.0 ** e:.{-e}f}" if e < 0 else f"{10 ** e:,}"


def fmt_count(n):
    return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k" if n >= 1e3 else f"{n:g}"


def nice_ceil(value, ticks=4):
    """A round step and the axis end it gives, for an axis from 0 to value."""
    value = value if value > 0 else 1
    raw = value / ticks
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    return step, step * math.ceil(value / step - 1e-9)


def shown(path):
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def read(path):
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        how = ": bash benches/instructions.sh > benches/results/instructions.txt" * (path.name == "instructions.txt")
        raise InputError(f"missing input {shown(path)}{how}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {shown(path)}: {e}") from None


def number(cell, n, kind=float):
    try:
        return kind(cell)
    except ValueError:
        raise InputError(f"line {n}: expected a number, got {cell!r}") from None


def parse_instructions(source):
    """{group: {scenario: per-call instructions}}; the file's own extra column is not trusted."""
    groups, group = {}, None
    for n, raw in enumerate(source.splitlines(), 1):
        cells = raw.split()
        if not cells:
            continue
        if cells[1:] == ["per-call", "extra"]:
            group = groups.setdefault(cells[0], {})
        elif group is None or len(cells) not in (2, 3):
            raise InputError(f"line {n}: expected a '<group> per-call extra' header "
                             f"or a '<scenario> <per-call> <extra>' row, got {raw.strip()!r}")
        else:
            group[cells[0]] = number(cells[1], n, int)
    return groups


def read_tsv(source, columns):
    """(line number, {column: cell}) rows; '#' lines (such as '# cap') are notes, not data."""
    lines = [(n, l) for n, l in enumerate(source.splitlines(), 1) if l.strip() and not l.startswith("#")]
    if not lines:
        raise InputError("empty, expected a header line")
    header = [c.strip() for c in lines[0][1].split("\t")]
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(f"line {lines[0][0]}: header lacks column(s) {', '.join(missing)}")
    rows = []
    for n, raw in lines[1:]:
        cells = raw.split("\t")
        if len(cells) < len(header):
            raise InputError(f"line {n}: {len(cells)} tab-separated cells, expected {len(header)}")
        rows.append((n, {c: cells[header.index(c)].strip() for c in columns}))
    return rows


def parse_latency(source):
    """{(scenario, probe): (p99 ms or None when nothing answered, ok, total)}."""
    out = {}
    for n, row in read_tsv(source, ["scenario", "probe", "p99_ms", "ok", "total"]):
        p99 = number(row["p99_ms"], n) if row["p99_ms"] else None
        out[row["scenario"], row["probe"]] = (p99, number(row["ok"], n, int), number(row["total"], n, int))
    return out


def parse_spray(source):
    """[(addresses sent, RSS MiB)] in file order, which is time order."""
    points = [(number(r["addresses"], n), number(r["rss_mib"], n))
              for n, r in read_tsv(source, ["seconds", "addresses", "rss_mib"])]
    if not any(a > 0 for a, _ in points):
        raise InputError("no sample with addresses sent")
    return points


def baseline_of(group, scenario):
    # The governor crates (and the peer stack built on tower_governor) need
    # axum's body type, so they are measured against a bare service that has
    # it too, or they would be billed for axum's own cost.
    if scenario.startswith(("tower-governor", "axum-governor")) or (group, scenario) == ("stack", "peers"):
        return "baseline-axum-body"
    return "baseline"


def cost_sections(groups):
    sections = []
    for heading, group, wanted in COST:
        rows = groups.get(group, {})
        bars = []
        for scenario, label in wanted:
            if scenario not in rows:
                continue
            base = baseline_of(group, scenario)
            if base not in rows:
                raise InputError(f"group {group} has no {base} row, needed for {scenario}")
            bars.append((label, rows[scenario] - rows[base], label.startswith("tower-claude")))
        if bars:
            sections.append((heading, bars))
    if not sections:
        raise InputError("none of the charted scenarios is there")
    return sections


def cost_svg(groups):
    sections = cost_sections(groups)
    title = "Extra instructions per request (callgrind), fewer is better"
    labels = [b[0] for _, bars in sections for b in bars]
    values = [f"{b[1]:,}" for _, bars in sections for b in bars]
    x0 = 16 + max(map(text_width, labels)) + 10
    x1 = WIDTH - 16 - max(map(text_width, values)) - 6
    top = max(max(b[1] for _, bars in sections for b in bars), 1)
    body = [*swatch(16, 52, OURS, "tower-claude"), *swatch(130, 52, PEER, "other crates")]
    y = 76
    for heading, bars in sections:
        body.append(text(16, y + 14, heading, size=13, bold=True))
        y += 24
        body.append(line(x0, y - 2, x0, y + 24 * len(bars) - 6, stroke=MUTED))
        for label, value, ours in bars:
            w = max(value, 0) / top * (x1 - x0)
            body += [text(x0 - 8, y + 13, label, anchor="end"),
                     rect(x0, y, w, 16, OURS if ours else PEER),
                     text(x0 + w + 6, y + 13, f"{value:,}", fill=MUTED)]
            y += 24
        y += 8
    return document(title, y + 8, body)


HATCH = ('<defs><pattern id="starved" width="6" height="6" patternUnits="userSpaceOnUse" '
         'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
         f'<line x1="0" y1="0" x2="0" y2="6" stroke="{PEER}" stroke-width="2"/></pattern></defs>')


def log_domain(values):
    # Whole decades only, so that every tick is a round number.
    positive = [v for v in values if v > 0] or [1.0]
    lo = math.floor(math.log10(min(positive)) + 1e-9)
    hi = math.ceil(math.log10(max(positive)) - 1e-9)
    return lo, max(hi, lo + 1)


def latency_label(p99, ok, total):
    return f"{fmt_ms(p99)} ms" + (f" · {ok}/{total} ok" if ok < total else "")


def attack_legend(present, y):
    # Ours in the first column, the peer in the second, as the colours group them.
    columns = [[s for s in present if s[0].startswith("ours")], [s for s in present if not s[0].startswith("ours")]]
    second = 16 + max([text_width(s) for s, _ in columns[0]] or [0]) + 48
    body = []
    for x, column in zip((16, second), columns):
        for i, (scenario, colour) in enumerate(column):
            body += swatch(x, y + 18 * i, colour, scenario)
    return body, 18 * max(len(c) for c in columns)


def attack_svg(data):
    title = "p99 latency under a flood of wrong tokens (log scale), lower is better"
    present = [s for s in SCENARIOS if any((s[0], p) in data for p in PROBES)]
    probes = [p for p in PROBES if any((s, p) in data for s, _ in present)]
    if not probes:
        raise InputError("none of the charted scenarios and probes is there")
    answered = [data[s, p] for s, _ in present for p in probes if data.get((s, p), (None,))[0] is not None]
    lo, hi = log_domain([p99 for p99, _, _ in answered])
    x0 = 16 + max(text_width(p, 13) for p in probes) + 12
    x1 = WIDTH - 16 - max([text_width(latency_label(*a)) for a in answered] or [0]) - 8
    x_of = lambda v: x0 + (math.log10(max(v, 10.0 ** lo)) - lo) / (hi - lo) * (x1 - x0)
    body, legend_height = attack_legend(present, 54)
    top = y = 54 + legend_height + 10
    bars = []
    for probe in probes:
        cluster = [(s, c) for s, c in present if (s, probe) in data]
        bars.append(text(16, y + 18 * len(cluster) / 2 + 2, probe, size=13, bold=True))
        for scenario, colour in cluster:
            p99, ok, total = data[scenario, probe]
            bars += starved_bar(x0, x1, y, colour) if p99 is None else [
                rect(x0, y, max(x_of(p99) - x0, 2), 14, colour),
                text(max(x_of(p99), x0 + 2) + 6, y + 11, latency_label(p99, ok, total), fill=MUTED)]
            y += 18
        y += 12
    grid = [line(x_of(10.0 ** e), top - 4, x_of(10.0 ** e), y - 8) for e in range(lo, hi + 1)]
    ticks = [text(x_of(10.0 ** e), y + 8, fmt_decade(e), anchor="middle", fill=MUTED) for e in range(lo, hi + 1)]
    axis = [line(x0, y - 8, x1, y - 8, stroke=MUTED),
            text((x0 + x1) / 2, y + 28, "p99 latency, ms (log scale)", anchor="middle", fill=MUTED)]
    return document(title, y + 40, body + grid + bars + axis + ticks, defs=HATCH)


def starved_bar(x0, x1, y, colour):
    # Nothing answered, so there is no latency to draw: a hatched bar across the
    # whole axis says "longer than anything measured" without inventing a number.
    return [rect(x0, y, x1 - x0, 14, "url(#starved)", stroke=colour, stroke_width=1.5),
            text(x0 + 6, y + 11, "starved: no answer", **HALO)]


def spray_svg(points):
    title = "Memory during a 1,000,000-address spray"
    x_step, x_end = nice_ceil(max(a for a, _ in points))
    top = max(r for _, r in points)
    y_step, y_end = nice_ceil(top, 5)
    if top > 0.9 * y_end:  # room for the end label above the line's highest point
        y_end += y_step
    x0, x1, y0, y1 = 64, WIDTH - 32, 68, 308
    px = lambda a: x0 + a / x_end * (x1 - x0)
    py = lambda r: y1 - r / y_end * (y1 - y0)
    body = [text(16, 52, "resident memory of the attack program (server and attacker in one process), MiB", fill=MUTED)]
    for i in range(round(y_end / y_step) + 1):
        body += [line(x0, py(i * y_step), x1, py(i * y_step)),
                 text(x0 - 8, py(i * y_step) + 4, f"{i * y_step:g}", anchor="end", fill=MUTED)]
    for i in range(round(x_end / x_step) + 1):
        body.append(text(px(i * x_step), y1 + 18, fmt_count(i * x_step), anchor="middle", fill=MUTED))
    path = " ".join(f"{num(px(a))},{num(py(r))}" for a, r in points)
    last_a, last_r = points[-1]
    label = f"{last_r:,.0f} MiB at {last_a:,.0f} addresses"
    # Left of the end point, unless the run stopped early and the label would cross the y axis.
    left = text_width(label) + 8 < px(last_a) - x0
    body += [line(x0, y1, x1, y1, stroke=MUTED),
             text((x0 + x1) / 2, y1 + 40, "client addresses sent", anchor="middle", fill=MUTED),
             f'<polyline{attrs(points=path, fill="none", stroke=OURS, stroke_width=2.5, stroke_linejoin="round")}/>',
             f'<circle{attrs(cx=px(last_a), cy=py(last_r), r=4, fill=OURS)}/>',
             text(px(last_a) + (-8 if left else 8), py(last_r) - 12, label,
                  anchor="end" if left else None, bold=True, **HALO)]
    return document(title, y1 + 52, body)


CHARTS = [("cost.svg", "instructions.txt", parse_instructions, cost_svg),
          ("attack.svg", "attack-latency.tsv", parse_latency, attack_svg),
          ("spray.svg", "attack-spray.tsv", parse_spray, spray_svg)]


def render(results):
    """Every chart as {file name: bytes}, all inputs read before anything is written."""
    charts = {}
    for name, source, parse, draw in CHARTS:
        raw = read(results / source)
        try:
            charts[name] = draw(parse(raw)).encode("utf-8")
        except InputError as e:
            raise InputError(f"{shown(results / source)}: {e}") from None
    return charts


def main():
    parser = argparse.ArgumentParser(description="Draw the README's benchmark charts.")
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed chart differs")
    parser.add_argument("--results", type=Path, default=ROOT / "benches" / "results", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "charts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        charts = render(args.results.resolve())
    except InputError as e:
        print(f"charts.py: {e}", file=sys.stderr)
        return 2
    out = args.out.resolve()
    stale = [n for n, svg in charts.items() if not (out / n).is_file() or (out / n).read_bytes() != svg]
    if args.check:
        for name in stale:
            print(f"{shown(out / name)} is missing or stale: run python3 scripts/charts.py", file=sys.stderr)
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for name in stale:  # an unchanged chart keeps its file untouched
        (out / name).write_bytes(charts[name])
        print(f"wrote {shown(out / name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
