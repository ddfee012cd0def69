"""`minictr login` / `logout`: docker's flags and messages. Credentials go
to a docker-format auth file (mode 0600); ~/.docker/config.json is read too."""
import sys

import click

DEFAULT_HOST = "docker.io"


@click.command()
@click.argument("server", required=False, default=DEFAULT_HOST)
@click.option("-u", "--username", default=None, help="Username")
@click.option("-p", "--password", default=None, help="Password")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin")
@click.pass_obj
def login(ctx, server, username, password, password_stdin) -> None:
    """Log in to a registry (default docker.io)."""
    from minictr.errors import MinictrError
    from minictr.image.registry import credentials
    if password and password_stdin:
        raise MinictrError("--password and --password-stdin are mutually exclusive")
    if password_stdin:
        if not username:
            raise MinictrError("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        ctx.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    if not username:
        username = click.prompt("Username")
    if not password:
        password = click.prompt("Password", hide_input=True)
    host = _host(server)
    store = credentials.CredentialStore()
    credentials.login(ctx.registry, host, username, password, store)
    ctx.err(f"Credentials saved in {store.path} (mode 0600)")
    ctx.out("Login Succeeded")


@click.command()
@click.argument("server", required=False, default=DEFAULT_HOST)
@click.pass_obj
def logout(ctx, server) -> None:
    """Log out from a registry."""
    from minictr.image.registry import credentials
    host = _host(server)
    if credentials.logout(host):
        ctx.out(f"Removing login credentials for {host}")
    else:
        ctx.out(f"Not logged in to {host}")


def _host(server: str) -> str:
    """`https://index.docker.io/v1/`, `registry-1.docker.io` and `docker.io` are one."""
    from minictr.image.registry.config import canonical_host
    host = server.split("://", 1)[-1].split("/", 1)[0]
    return canonical_host(host)
