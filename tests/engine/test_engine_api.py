"""The engine as a library (what the builder, the CRI server and the
kubelet call), without the CLI: create does not change the caller's spec,
and a failed start carries the program's exit code on the exception."""
import pytest

pytestmark = pytest.mark.root


def test_create_names_anonymous_volumes_in_the_records_copy_only(mc, engine):
    from minictr.engine.options import parse_volume
    from minictr.engine.spec import ContainerSpec
    spec = ContainerSpec(image="busybox", network="none", cmd=["true"], volumes=[parse_volume("/data")])
    before = spec.to_dict()
    rec = engine.create(spec, name="apispec")
    mc.leftovers.append("apispec")
    assert spec.to_dict() == before, "create changed the caller's spec"
    (volume,) = rec.spec.volumes
    assert volume.anonymous and len(volume.source) == 64 and engine.volumes.exists(volume.source)
    engine.remove(rec, volumes=True)
    assert not engine.volumes.exists(volume.source)


@pytest.mark.parametrize("cmd, code", [(["/no/such/program"], 127), (["/etc"], 126)])
def test_a_program_that_cannot_run_carries_its_code(mc, engine, cmd, code):
    from minictr.engine.errors import StartFailed
    from minictr.engine.spec import ContainerSpec
    rec = engine.create(ContainerSpec(image="busybox", network="none", cmd=cmd), name=f"apicode{code}")
    mc.leftovers.append(f"apicode{code}")
    with pytest.raises(StartFailed) as e:
        engine.start(rec)
    assert e.value.program_code == code and e.value.exit_code == code
    assert engine.records.get(rec.id).exit_code == code   # State.ExitCode, as docker's daemon records it
    engine.remove(engine.records.get(rec.id), force=True)
