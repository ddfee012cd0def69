"""hosts, resolv.conf and hostname content as docker writes them."""
import os

from minictr.network.files import render_hosts, render_resolv, write_container_files, write_in_place

DEFAULTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")


def test_hosts_for_network_none_has_localhost_only():
    assert render_hosts("box") == DEFAULTS


def test_hosts_order_extra_own_then_peers():
    text = render_hosts("web.example.com", "10.66.0.2", [("db", "10.0.0.9"), ("gw", "host-gateway")],
                        [("10.66.0.3", ["api", "api-alias"])], host_gateway="10.66.0.1")
    assert text == DEFAULTS + ("10.0.0.9\tdb\n10.66.0.1\tgw\n10.66.0.2\tweb.example.com web\n"
                               "10.66.0.3\tapi api-alias\n")


def test_host_gateway_waits_for_the_gateway():
    assert render_hosts("box", None, [("gw", "host-gateway"), ("db", "10.0.0.9")]) == DEFAULTS + "10.0.0.9\tdb\n"


def test_resolv_drops_loopback_nameservers_and_falls_back_to_docker_defaults():
    host = "# from the host\nnameserver 127.0.0.53\nnameserver ::1\nsearch corp.example\noptions edns0\n"
    assert render_resolv(host) == ("# from the host\nsearch corp.example\noptions edns0\n"
                                   "nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
    assert render_resolv("nameserver 127.0.0.1\nnameserver 10.1.1.1\n") == "nameserver 10.1.1.1\n"


def test_resolv_dns_options_replace_the_hosts():
    host = "nameserver 10.1.1.1\nsearch a.example\noptions ndots:2\n"
    assert render_resolv(host, dns=["9.9.9.9"], dns_search=["b.example"], dns_options=["ndots:1"]) == (
        "nameserver 9.9.9.9\nsearch b.example\noptions ndots:1\n")


def test_write_in_place_keeps_the_inode(tmp_path):
    path = tmp_path / "hosts"
    path.write_text("a long first version\n")
    inode = os.stat(path).st_ino
    write_in_place(str(path), "short\n")
    assert path.read_text() == "short\n" and os.stat(path).st_ino == inode


def test_container_files(tmp_path):
    resolv = tmp_path / "host-resolv"
    resolv.write_text("nameserver 10.9.9.9\n")
    paths = write_container_files(str(tmp_path / "c"), "box", None, [("x", "1.2.3.4")], resolv_source=str(resolv))
    assert open(paths["hostname"]).read() == "box\n"
    assert open(paths["hosts"]).read() == DEFAULTS + "1.2.3.4\tx\n"
    assert open(paths["resolv.conf"]).read() == "nameserver 10.9.9.9\n"
