"""Images: registry client, content store, layer unpack into snapshots,
save/load/push. Knows `oci` and `state`; never containers or networking."""
