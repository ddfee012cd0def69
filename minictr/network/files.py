"""A container's /etc/hosts, /etc/resolv.conf and /etc/hostname, as docker
writes them.

The files live on the host and are bind-mounted into the container, so a
rewrite (a peer joined or left a user-defined network) must keep the
inode: open, truncate, write in place, never write-and-rename (the
container would keep seeing the old file)."""
from __future__ import annotations

import os


# docker's default records (libnetwork/etchosts)
DEFAULT_HOSTS = (
    ("127.0.0.1", "localhost"),
    ("::1", "localhost ip6-localhost ip6-loopback"),
    ("fe00::0", "ip6-localnet"),
    ("ff00::0", "ip6-mcastprefix"),
    ("ff02::1", "ip6-allnodes"),
    ("ff02::2", "ip6-allrouters"),
)
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")  # docker's, when the host has only loopback resolvers
HOST_GATEWAY = "host-gateway"


def _hostnames(hostname: str) -> str:
    """'web.example.com' → 'web.example.com web', as docker's main record."""
    short = hostname.split(".", 1)[0]
    return hostname if short == hostname else f"{hostname} {short}"


def render_hosts(hostname: str | None = None, ip: str | None = None, extra_hosts=(),
                 peers=(), host_gateway: str | None = None) -> str:
    """docker's order: the default records, --add-host entries, the
    container's own address, then peers on user-defined networks
    (`peers`: (ip, [name, alias, ...]) pairs). No ip: --network none/host.
    "host-gateway" entries need `host_gateway` (the network's gateway) and
    are left out without it."""
    lines = [f"{address}\t{names}" for address, names in DEFAULT_HOSTS]
    for name, address in extra_hosts:
        if address == HOST_GATEWAY:
            if not host_gateway:
                continue  # not known yet: connect() writes it with the network's gateway
            address = host_gateway
        lines.append(f"{address}\t{name}")
    if ip and hostname:
        lines.append(f"{ip}\t{_hostnames(hostname)}")
    for address, names in peers:
        lines.append(f"{address}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


def _is_loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "0:0:0:0:0:0:0:1")


def render_resolv(host_text: str, dns=(), dns_search=(), dns_options=()) -> str:
    """The host's resolv.conf without loopback nameservers (unreachable from
    a container's namespace); if none remain, docker's 8.8.8.8/8.8.4.4.
    --dns replaces the nameservers, --dns-search/--dns-option their lines."""
    kept, nameservers = [], []
    for line in host_text.splitlines():
        words = line.split()
        keyword = words[0] if words else ""
        if keyword == "nameserver":
            if len(words) > 1 and not dns and not _is_loopback(words[1]):
                nameservers.append(words[1])
            continue
        if (keyword in ("search", "domain") and dns_search) or (keyword == "options" and dns_options):
            continue
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    servers = list(dns) or nameservers or list(FALLBACK_NAMESERVERS)
    lines = kept + [f"nameserver {s}" for s in servers]
    if dns_search:
        lines.append("search " + " ".join(dns_search))
    if dns_options:
        lines.append("options " + " ".join(dns_options))
    return "\n".join(lines) + "\n"


def host_resolv_conf(path: str = "/etc/resolv.conf") -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def write_in_place(path: str, text: str) -> None:
    """Truncate and write the same inode (the file may be bind-mounted)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_container_files(directory: str, hostname: str, ip: str | None = None, extra_hosts=(), dns=(),
                          dns_search=(), dns_options=(), host_gateway: str | None = None,
                          resolv_source: str = "/etc/resolv.conf") -> dict[str, str]:
    """Write hostname, hosts and resolv.conf into `directory` (the engine
    bind-mounts them); returns {"hostname": path, "hosts": path, "resolv.conf": path}.
    connect() rewrites "hosts" once the address is known."""
    os.makedirs(directory, mode=0o755, exist_ok=True)
    paths = {name: os.path.join(directory, name) for name in ("hostname", "hosts", "resolv.conf")}
    write_in_place(paths["hostname"], hostname + "\n")
    write_in_place(paths["hosts"], render_hosts(hostname, ip, extra_hosts, host_gateway=host_gateway))
    write_in_place(paths["resolv.conf"], render_resolv(host_resolv_conf(resolv_source), dns, dns_search, dns_options))
    return paths
