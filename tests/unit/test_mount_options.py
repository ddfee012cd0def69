"""Mount option strings become the flags runc would pass to mount(2)."""
from minictr.runtime import mount_options as mo


def test_flags_and_data_split():
    p = mo.parse(["nosuid", "noexec", "nodev", "mode=755", "size=65536k"])
    assert p.flags == mo.MS_NOSUID | mo.MS_NOEXEC | mo.MS_NODEV
    assert p.data == "mode=755,size=65536k"
    assert p.propagation == 0


def test_clearing_options_undo_earlier_ones():
    assert mo.parse(["ro", "rw"]).flags == 0
    assert mo.parse(["nosuid", "suid"]).flags == 0


def test_bind_and_propagation():
    p = mo.parse(["rbind", "rprivate", "ro"])
    assert p.is_bind and p.flags & mo.MS_REC and p.flags & mo.MS_RDONLY
    assert p.propagation == mo.MS_PRIVATE | mo.MS_REC


def test_engine_extensions_are_not_passed_to_the_kernel():
    assert mo.parse(["tmpcopyup", "nosuid"]).data == ""
