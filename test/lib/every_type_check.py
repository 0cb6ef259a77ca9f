#!/usr/bin/env python3
"""The Debezium 2.7 JSON value of every column of test/fixtures/debezium_workload.sh's
every_type rows, computed independently of the agent from a SELECT of the same rows
(test/lib/every_type.sh's every_type_source), compared field by field with the `after` of
each op c event of an events file.

    every_type_check.py SOURCE.jsonl EVENTS.jsonl

Prints "# mismatch ..." lines and, last,
"RESULT <n compared, rows 1-4> <n problems, rows 1-4> <n compared, row 5> <n problems, row 5>".
Used by 110 and the version matrix (test/lib/pgsmoke.sh); the Debezium sources behind the
less obvious expectations are listed in 110's header.
"""
import base64, json, re, struct, sys
from decimal import Decimal, ROUND_HALF_UP, getcontext
getcontext().prec = 1000                       # exact arithmetic on the huge numerics

src = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
evs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
data = [e for e in evs if e.get("value") is not None and e["value"].get("op") == "c"]
after = {e["value"]["after"]["id"]: e["value"]["after"] for e in data}
b64 = lambda b: base64.b64encode(b).decode()
problems = []
bad = {}                                       # row id -> number of problems
def problem(rid, msg):
    problems.append(msg)
    bad[rid] = bad.get(rid, 0) + 1

def java_bigint_bytes(n):
    # BigInteger.toByteArray: minimal two's complement, big-endian
    bl = n.bit_length() if n >= 0 else (~n).bit_length()
    return n.to_bytes(bl // 8 + 1, "big", signed=True)

def decimal_fixed(text, scale):               # org.apache.kafka.connect.data.Decimal
    d = Decimal(text)
    unscaled = d.scaleb(scale)
    assert unscaled == unscaled.to_integral_value(), (text, scale)
    return b64(java_bigint_bytes(int(unscaled)))

def decimal_var(text):                         # io.debezium.data.VariableScaleDecimal
    # PostgresValueConverter.convertDecimal: stripTrailingZeros(), a negative scale set to 0
    d = Decimal(text).normalize()
    scale = max(0, -d.as_tuple().exponent)
    return {"scale": scale, "value": b64(java_bigint_bytes(int(d.scaleb(scale))))}

def money(text):                               # PGmoney double -> BigDecimal.valueOf -> scale 2
    d = Decimal(repr(float(text))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return b64(java_bigint_bytes(int(d.scaleb(2))))

def days_from_civil(y, m, d):                  # proleptic Gregorian, year 0 = 1 BC
    y -= m <= 2
    era = y // 400                             # Python's // floors
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468

def date_days(text):                           # io.debezium.time.Date
    if text == "infinity":                     # POSITIVE_INFINITY_LOCAL_DATE
        return days_from_civil(-5877611, 6, 21)
    if text == "-infinity":                    # NEGATIVE_INFINITY_LOCAL_DATE
        return days_from_civil(-5877611, 6, 22)
    m = re.fullmatch(r"(\d{4,})-(\d\d)-(\d\d)( BC)?", text)
    y = int(m.group(1))
    if m.group(4):
        y = 1 - y
    return days_from_civil(y, int(m.group(2)), int(m.group(3)))

def time_parts(text):
    """'HH:MM:SS[.ffffff]' -> (micros of day, fraction digits as written)"""
    m = re.fullmatch(r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?", text)
    frac = m.group(4) or ""
    us = ((int(m.group(1)) * 60 + int(m.group(2))) * 60 + int(m.group(3))) * 10**6
    return us + int(frac.ljust(6, "0") or 0)

def offset_secs(text):
    m = re.fullmatch(r"([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?", text)
    s = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60 + int(m.group(4) or 0)
    return -s if m.group(1) == "-" else s

def ts_micros(text):
    """'YYYY-MM-DD HH:MM:SS[.f][+oo[:mm]]' -> micros since epoch, as UTC (wall clock - offset)"""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-][\d:]+)?", text)
    us = days_from_civil(int(m.group(1)), int(m.group(2)), int(m.group(3))) * 86400 * 10**6
    us += time_parts(m.group(4))
    if m.group(5):
        us -= offset_secs(m.group(5)) * 10**6
    return us

def civil_from_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d

def zoned_ts(text, width):                     # io.debezium.time.ZonedTimestamp, exactly width digits
    if text in ("infinity", "-infinity"):
        return text
    us = ts_micros(text)
    days, rem = divmod(us, 86400 * 10**6)
    y, mo, d = civil_from_days(days)
    secs, frac = divmod(rem, 10**6)
    hh, mm, ss = secs // 3600, secs // 60 % 60, secs % 60
    f = ("%06d" % frac)[:width]
    return "%04d-%02d-%02dT%02d:%02d:%02d%sZ" % (y, mo, d, hh, mm, ss, "." + f if width else "")

def zoned_time(text):                          # io.debezium.time.ZonedTime (ISO_OFFSET_TIME at UTC)
    m = re.fullmatch(r"(\d\d:\d\d:\d\d(?:\.\d+)?)([+-][\d:]+)", text)
    us = (time_parts(m.group(1)) - offset_secs(m.group(2)) * 10**6) % (86400 * 10**6)
    secs, frac = divmod(us, 10**6)
    out = "%02d:%02d:%02d" % (secs // 3600, secs // 60 % 60, secs % 60)
    if frac:
        out += "." + ("%06d" % frac).rstrip("0")
    return out + "Z"

def interval_micros(parts):                    # MicroDuration.durationMicros, Java doubles
    y, mo, d, h, mi, us = (Decimal(str(p)) for p in parts)
    whole = int(us / 10**6)                    # PGInterval: wholeSeconds + microSeconds / 1e6
    frac = int(us - whole * 10**6)
    seconds = whole + frac / 1e6
    # the same value parsed as one double (older pgjdbc) must agree, or the row is ambiguous
    assert seconds == float(us / 10**6), parts
    number_of_days = (int(y) * 12 + int(mo)) * 30.4375 + int(d)
    number_of_seconds = (((number_of_days * 24 + int(h)) * 60) + int(mi)) * 60 + seconds
    return int(number_of_seconds * 1e6 + 0)

def bits(text):                                # PostgresValueConverter.convertBits
    n = 0
    for i, ch in enumerate(reversed(text)):
        if ch == "1":
            n |= 1 << i
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "little"))

def f32(text):                                 # FLOAT32, shortest repr that round-trips
    if text in ("NaN", "Infinity", "-Infinity"):
        return text
    v = struct.unpack("<f", struct.pack("<f", float(text)))[0]
    for p in range(1, 18):
        s = "%.*g" % (p, v)
        if struct.pack("<f", float(s)) == struct.pack("<f", v):
            return float(s)

def f64(text):
    return text if text in ("NaN", "Infinity", "-Infinity") else float(text)

def point(text):                               # io.debezium.data.geometry.Point
    m = re.fullmatch(r"\(([^,]+),([^)]+)\)", text)
    x, y = float(m.group(1)), float(m.group(2))
    return {"x": x, "y": y, "wkb": b64(b"\x01" + struct.pack("<Idd", 1, x, y)), "srid": None}

def boolean(text):
    return {"true": True, "false": False, "t": True, "f": False}[text]

ident = lambda t: t
arr = lambda conv: (lambda lst: [None if e is None else conv(e) for e in lst])

CONV = {
    "id": int, "c_bool": boolean, "c_bit1": lambda t: t == "1", "c_bit12": bits, "c_varbit": bits,
    "c_int2": int, "c_int4": int, "c_int8": int, "c_oid": int,
    "c_float4": f32, "c_float8": f64,
    "c_num102": lambda t: decimal_fixed(t, 2), "c_num": decimal_var, "c_money": money,
    "c_char5": ident, "c_varchar": ident, "c_text": ident,
    # Debezium 2.7 streams every `name` column as null (its snapshot has the text); copied.
    "c_name": lambda t: None,
    "c_bytea": lambda t: b64(bytes.fromhex(t[2:])),
    "c_json": ident, "c_jsonb": ident, "c_xml": ident, "c_uuid": lambda t: t.lower(),
    "c_date": date_days,
    "c_time3": lambda t: time_parts(t) // 1000, "c_time": time_parts, "c_timetz": zoned_time,
    "c_ts3": lambda t: ts_micros(t) // 1000, "c_ts": ts_micros,
    "c_tstz": lambda t: zoned_ts(t, 6), "c_tstz3": lambda t: zoned_ts(t, 3),
    "c_interval": None,                        # from x_interval_parts
    "c_inet": ident, "c_cidr": ident, "c_macaddr": ident, "c_macaddr8": ident,
    "c_int4range": ident, "c_int8range": ident, "c_numrange": ident,
    "c_tsrange": ident, "c_tstzrange": ident, "c_daterange": ident,
    "c_enum": ident, "c_point": point,
    "c_int4arr": arr(int), "c_textarr": arr(ident), "c_numarr": arr(lambda t: decimal_fixed(t, 2)),
    "c_boolarr": arr(boolean), "c_uuidarr": arr(lambda t: t.lower()), "c_datearr": arr(date_days),
    "c_tstzarr": arr(lambda t: zoned_ts(t, 6)), "c_enumarr": arr(ident),
    "c_dom": lambda t: decimal_fixed(t, 3),    # domain over numeric(8,3): Decimal scale 3
    "c_nn": int, "c_dflt": ident,
}
DEFAULTS = {"c_dflt": "dflt"}                  # Connect schema defaults of nullable columns

n_cmp = {}
for row in src:
    rid = int(row["id"])
    types = row.pop("x_types")
    parts = row.pop("x_interval_parts")
    days_pg = row.pop("x_date_days")
    cols = [c for c in row]
    if len(types) != len(cols):
        problem(rid, "row %s: %d source types for %d columns" % (rid, len(types), len(cols)))
    # self-check of the date arithmetic against the server's own
    if days_pg is not None and date_days(row["c_date"]) != days_pg:
        problem(rid, "self-check: date %r -> %d, server says %d" % (row["c_date"], date_days(row["c_date"]), days_pg))
    got_row = after.get(rid)
    if got_row is None:
        problem(rid, "row %s: no op c event" % rid)
        continue
    extra = sorted(set(got_row) - set(cols))
    missing = sorted(set(cols) - set(got_row))
    if extra:
        problem(rid, "row %s: unexpected fields in after: %s" % (rid, extra))
    if missing:
        problem(rid, "row %s: fields missing from after: %s" % (rid, missing))
    for col in cols:
        text = row[col]
        if col == "c_interval":
            exp = None if text is None else interval_micros(parts)
        elif text is None:
            exp = DEFAULTS.get(col)
        else:
            exp = CONV[col](text if not isinstance(text, int) else str(text))
        if col not in got_row:
            continue
        got = got_row[col]
        n_cmp[rid] = n_cmp.get(rid, 0) + 1
        same = (type(got) is type(exp) or {type(got), type(exp)} <= {int, float} and not isinstance(got, bool)) and got == exp
        if isinstance(exp, float) and isinstance(got, bool):
            same = False
        if not same:
            problem(rid, "mismatch column=%s row=%s (%s) source=%s expected=%s got=%s" % (
                col, rid, types[cols.index(col)] if len(types) == len(cols) else "?",
                json.dumps(text), json.dumps(exp), json.dumps(got)))
for p in problems:
    print("# " + p)
main = [1, 2, 3, 4]
print("RESULT %d %d %d %d" % (sum(n_cmp.get(r, 0) for r in main), sum(bad.get(r, 0) for r in main),
                              n_cmp.get(5, 0), bad.get(5, 0)))
