"""IP addresses as Microsoft 365 writes them: with ports, brackets, IPv4-mapped
IPv6 prefixes, zones, or inside ``host (address)``."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ..missing import MISSING
from .registry import Example, register

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_BRACKETED = re.compile(r"\[([^\[\]]+)\](?::([0-9]{1,5}))?")
# Without brackets, a port is only unambiguous after a dotted IPv4 tail ("1.2.3.4:80", "::ffff:1.2.3.4:80").
_DOTTED_WITH_PORT = re.compile(r"([0-9A-Fa-f:.]*[0-9]\.[0-9]+):([0-9]{1,5})")
_PARENTHESIZED = re.compile(r"[^()]*\(([^()]*)\)")  # "host (1.2.3.4)"


def _address(text: str) -> IPAddress | None:
    text = text.strip().split("%", 1)[0]  # drop an IPv6 zone such as %eth0
    try:  # ip_address() would try IPv4 first, which cannot succeed on text with a colon
        ip = (ipaddress.IPv6Address if ":" in text else ipaddress.IPv4Address)(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def parse_endpoint(value: str) -> tuple[IPAddress, int | None] | None:
    """Split an address string into (ip, port or None); None when it holds no valid IP."""
    text = value.strip()
    paren = _PARENTHESIZED.fullmatch(text)
    if paren:
        text = paren.group(1).strip()
    ip = _address(text)
    if ip is not None:
        return ip, None
    match = _BRACKETED.fullmatch(text) or _DOTTED_WITH_PORT.fullmatch(text)
    if not match:
        return None
    ip = _address(match.group(1))
    port = None if match.group(2) is None else int(match.group(2))
    if ip is None or (port is not None and port > 65535):
        return None
    return ip, port


@register(
    "clean_ip",
    args=1,
    category="network",
    doc="The canonical IP address inside a value (port, brackets, ::ffff: prefix, zone and "
    "'host (ip)' removed); absent if there is none.",
    examples=[
        Example("clean_ip(.ip)", {"ip": "20.190.128.5"}, "20.190.128.5"),
        Example("clean_ip(.ip)", {"ip": "20.190.128.5:52114"}, "20.190.128.5"),
        Example("clean_ip(.ip)", {"ip": "[2001:DB8:0::1]:443"}, "2001:db8::1"),
        Example("clean_ip(.ip)", {"ip": "::ffff:10.1.2.3"}, "10.1.2.3"),
        Example("clean_ip(.ip)", {"ip": "[::FFFF:10.1.2.3]:80"}, "10.1.2.3"),
        Example("clean_ip(.ip)", {"ip": "mail.contoso.com (203.0.113.7)"}, "203.0.113.7"),
        Example("clean_ip(.ip)", {"ip": "DB9PR04MB8462 (15.20.8005.017)"}, MISSING),
        Example("clean_ip(.ip)", {"ip": " fe80::1%eth0 "}, "fe80::1"),
        Example("clean_ip(.ip)", {"ip": ""}, MISSING),
        Example("clean_ip(.ip)", {"ip": None}, None),
    ],
)
def clean_ip(x: Any) -> Any:
    if x.__class__ is str:
        found = _CLEANED.get(x)  # client addresses repeat a lot within a tenant's records
        return _clean_text(x) if found is None else found
    if x is MISSING or x is None:
        return x
    return MISSING


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
_PLAIN_IPV4_PORT = re.compile(rf"((?:{_OCTET}\.){{3}}{_OCTET}):([0-9]{{1,5}})")
_CLEANED: dict[str, Any] = {}  # text -> clean_ip(text), bounded by _CACHE_SIZE
_CACHE_SIZE = 8192


def _clean_text(text: str) -> Any:
    if _PLAIN_IPV4.fullmatch(text):  # the common case, already canonical
        cleaned = text
    else:
        port = _PLAIN_IPV4_PORT.fullmatch(text)  # the next most common: what parse_endpoint gives, sooner
        if port is not None:
            cleaned = port.group(1) if int(port.group(2)) <= 65535 else MISSING
        else:
            parsed = parse_endpoint(text)
            cleaned = MISSING if parsed is None else str(parsed[0])
    if len(_CLEANED) >= _CACHE_SIZE:
        _CLEANED.clear()
    _CLEANED[text] = cleaned
    return cleaned


_clean_text.cache_clear = _CLEANED.clear  # type: ignore[attr-defined]  # as with functools caches


@register(
    "ip_port",
    args=1,
    category="network",
    doc="The port carried with an IP address ('1.2.3.4:80', '[::1]:443') as an int; absent if none.",
    examples=[
        Example("ip_port(.ip)", {"ip": "20.190.128.5:52114"}, 52114),
        Example("ip_port(.ip)", {"ip": "[2001:db8::1]:443"}, 443),
        Example("ip_port(.ip)", {"ip": "20.190.128.5"}, MISSING),
        Example("ip_port(.ip)", {"ip": "not an ip:80"}, MISSING),
    ],
)
def ip_port(x: Any) -> Any:
    if x is MISSING or x is None:
        return x
    parsed = parse_endpoint(x) if isinstance(x, str) else None
    if parsed is None or parsed[1] is None:
        return MISSING
    return parsed[1]
