"""`minictr cri`: run the CRI v1 server (the gRPC face in minictr/cri/)
in the foreground, logging to stderr, until SIGTERM or SIGINT."""
import click

from minictr.cri.config import DEFAULT_SOCKET, DEFAULT_STREAMING_ADDR


@click.command()
@click.option("--listen", default=DEFAULT_SOCKET, show_default=True, metavar="SOCK",
              help="Unix socket to serve the CRI on")
@click.option("--streaming-addr", default=DEFAULT_STREAMING_ADDR, show_default=True, metavar="IP:PORT",
              help="Address of the exec/attach/port-forward streaming server (port 0: a free one)")
@click.option("--cni-conf-dir", default="/etc/cni/net.d", show_default=True, metavar="DIR",
              help="The CNI network configuration (the first file in name order applies)")
@click.option("--cni-bin-dir", "cni_bin_dirs", multiple=True, metavar="DIR",
              help="Where the CNI plugins are (repeatable; default /opt/cni/bin and /usr/lib/cni)")
@click.option("--explain", is_flag=True, help="Print every kernel step on stderr, as the global --explain")
@click.pass_obj
def cri(ctx, listen, streaming_addr, cni_conf_dir, cni_bin_dirs, explain) -> None:
    """Serve the Kubernetes CRI (RuntimeService, ImageService) for kubelet and crictl."""
    import os
    from minictr.cri.config import ServerConfig
    from minictr.cri.server import serve
    if explain:
        from minictr import explain as explain_mod
        explain_mod.enable()
    config = ServerConfig(listen=os.path.abspath(listen), root=ctx.root, streaming_addr=streaming_addr,
                          cni_conf_dir=os.path.abspath(cni_conf_dir),
                          cni_bin_dirs=tuple(os.path.abspath(d) for d in cni_bin_dirs) or None)
    raise SystemExit(serve(config))
