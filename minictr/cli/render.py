"""How docker prints things: sizes (3 significant digits, decimal units),
ages ("2 weeks ago"), and tables aligned like Go's tabwriter with three
spaces of padding."""
from __future__ import annotations

import datetime as _dt
import json

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision: `4.26MB`, `100B`, `1.23GB`."""
    i = 0
    while size >= 1000.0 and i < len(_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{_format_g(size, precision)}{_UNITS[i]}"


def _format_g(value: float, precision: int) -> str:
    text = f"{value:.{precision}g}"
    if "e" in text:  # Go's %g would also switch; keep plain digits as docker shows
        text = f"{value:.0f}"
    return text


def human_duration(seconds: float) -> str:
    """go-units HumanDuration, as docker's CREATED and STATUS columns use it."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def parse_time(text: str) -> _dt.datetime | None:
    """An RFC 3339 timestamp as image configs carry it (nanoseconds allowed)."""
    if not text:
        return None
    t = text.strip().replace("Z", "+00:00")
    if "." in t:  # trim fractional seconds to microseconds for fromisoformat
        head, _, rest = t.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits):]
        t = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    try:
        value = _dt.datetime.fromisoformat(t)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def ago(text_or_ts, now: float | None = None) -> str:
    """`2 weeks ago`, or `N/A` when the time is unknown."""
    if isinstance(text_or_ts, (int, float)):
        ts = float(text_or_ts)
    else:
        value = parse_time(text_or_ts)
        if value is None or value.year <= 1:
            return "N/A"
        ts = value.timestamp()
    now = _dt.datetime.now(_dt.timezone.utc).timestamp() if now is None else now
    return f"{human_duration(max(0.0, now - ts))} ago"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell plus three spaces; the last
    column unpadded (tabwriter with padding 3)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [headers] + rows:
        cells = [cell.ljust(widths[i] + 3) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def ids_or_json(ctx, rows: list[dict], quiet: bool, fmt: str | None, id_key: str = "ID") -> bool:
    """`-q` (one ID per line) and `--format json` as docker's listings print
    them; False when neither was asked for and the caller prints its table."""
    if quiet:
        if rows:
            ctx.out("\n".join(row[id_key] for row in rows))
        return True
    if fmt == "json":
        if rows:
            ctx.out(json_lines(rows))
        return True
    return False


def json_lines(items: list[dict]) -> str:
    """`--format json`: one compact JSON object per line, as docker does."""
    return "\n".join(json.dumps(item, separators=(",", ":")) for item in items)
