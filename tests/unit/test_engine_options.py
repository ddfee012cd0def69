"""docker's option texts as the CLI reads them (minictr.engine.options):
the values, and docker's own words for what is wrong."""
import pytest

from minictr.engine.errors import InvalidOption
from minictr.engine.options import (parse_add_host, parse_bytes, parse_cpus, parse_publish, parse_restart,
                                    parse_volume)
from minictr.engine.spec import ContainerSpec, Mount, Publish


def port(host_ip="", host_port=0, container_port=80, proto="tcp"):
    return Publish(host_ip, host_port, container_port, proto)


@pytest.mark.parametrize("spec,ports", [
    ("80", [port()]),
    ("8080:80", [port(host_port=8080)]),
    ("127.0.0.1:8080:80/udp", [port("127.0.0.1", 8080, 80, "udp")]),
    ("127.0.0.1::80", [port("127.0.0.1")]),
    ("[::1]:8080:80", [port("::1", 8080)]),
    ("80/sctp", [port(proto="sctp")]),
    ("8000-8001:80-81", [port(host_port=8000, container_port=80), port(host_port=8001, container_port=81)]),
    ("80-81", [port(container_port=80), port(container_port=81)]),
])
def test_publish_forms(spec, ports):
    assert parse_publish(spec) == ports


@pytest.mark.parametrize("spec,message", [
    ("", "invalid containerPort: "),
    ("http", "invalid containerPort: http"),
    ("8080:", "invalid containerPort: "),
    ("70000", "invalid containerPort: 70000"),
    ("99999:80", "invalid hostPort: 99999"),
    ("80/xyz", "invalid proto: xyz"),
    ("1.2.3:80:80", "invalid IP address: 1.2.3"),
    ("8000-8002:80-81", "invalid ranges specified for container and host Ports: 8000-8002:80-81"),
])
def test_publish_errors_in_dockers_words(spec, message):
    with pytest.raises(InvalidOption) as e:
        parse_publish(spec)
    assert str(e.value) == message


@pytest.mark.parametrize("text,pair", [
    ("db:10.0.0.9", ("db", "10.0.0.9")),
    ("db=10.0.0.9", ("db", "10.0.0.9")),
    ("v6=::1", ("v6", "::1")),                     # '=' first: an IPv6 address has colons
    ("v6:[2001:db8::1]", ("v6", "2001:db8::1")),
    ("host.docker.internal:host-gateway", ("host.docker.internal", "host-gateway")),
])
def test_add_host_forms(text, pair):
    assert parse_add_host(text) == pair


@pytest.mark.parametrize("text,why", [
    ("noip", 'bad format for add-host: "noip"'),
    (":1.2.3.4", 'bad format for add-host: ":1.2.3.4"'),
    ("a b:1.2.3.4", 'bad format for add-host: "a b:1.2.3.4"'),
    ("db:999.1.1.1", 'invalid IP address in add-host: "999.1.1.1"'),
])
def test_add_host_errors_in_dockers_words(text, why):
    with pytest.raises(InvalidOption) as e:
        parse_add_host(text)
    assert str(e.value) == f'invalid argument "{text}" for "--add-host" flag: {why}'


def test_sizes_cpus_and_restart_policies():
    assert parse_bytes("512m") == 512 << 20 and parse_bytes("1.5g") == int(1.5 * (1 << 30))
    assert parse_bytes("64kb") == 64 << 10 and parse_bytes("100") == 100
    assert parse_cpus("1.5") == 1_500_000_000
    assert parse_restart("on-failure:3") == ("on-failure", 3) and parse_restart("always") == ("always", 0)
    for bad, call in (("banana", parse_bytes), ("-1", parse_bytes), ("x", parse_cpus), ("sometimes", parse_restart),
                      ("always:3", parse_restart), ("on-failure:x", parse_restart)):
        with pytest.raises(InvalidOption):
            call(bad)


@pytest.mark.parametrize("text, mount", [
    ("/data", Mount("volume", "", "/data")),
    ("cache:/var/cache:ro", Mount("volume", "cache", "/var/cache", read_only=True)),
    ("/srv//www/:/www:rw,rslave", Mount("bind", "/srv/www", "/www", propagation="rslave")),
])
def test_volume_forms_are_records(text, mount):
    assert parse_volume(text) == mount


def test_a_spec_keeps_its_records_through_the_records_json():
    spec = ContainerSpec(image="busybox", volumes=[parse_volume("/data")], publish=parse_publish("8080:80"))
    again = ContainerSpec.from_dict(spec.to_dict())
    assert again == spec and isinstance(again.volumes[0], Mount) and isinstance(again.publish[0], Publish)
    with pytest.raises(AttributeError):
        again.volumes[0].source = "elsewhere"   # records are frozen: nobody changes a spec's mounts in place
