"""`--security-opt` as docker reads it: `seccomp=unconfined|PROFILE.json`,
`no-new-privileges[=true|false]`, `systempaths=unconfined`, and the
AppArmor/SELinux options, which this host may not offer (then only their
"off" forms are accepted: a profile that cannot be applied is an error, not
a silent no-op). A profile file is read here, at create, as docker's CLI
does: the container keeps working if the file goes away."""
from __future__ import annotations

from minictr.engine.errors import EngineError, InvalidOption
from minictr.engine.seccomp_profile import read_profile_file
from minictr.records import dataclass
from minictr.runtime.plan import lsm_enabled

UNCONFINED = "unconfined"


@dataclass
class SecurityChoice:
    seccomp: str = ""               # "": the default profile; "unconfined"; else a profile's JSON text
    no_new_privileges: bool = False
    unmask_systempaths: bool = False


def _bool(value: str, opt: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise InvalidOption(f'invalid --security-opt 2: "{opt}"')


def parse_security_opts(items: list[str]) -> SecurityChoice:

    choice = SecurityChoice()
    for opt in items:
        if opt == "no-new-privileges":
            choice.no_new_privileges = True
            continue
        # docker still takes the old `key:value` spelling
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if not sep:
            raise InvalidOption(f'invalid --security-opt 1: "{opt}"')
        if key == "no-new-privileges":
            choice.no_new_privileges = _bool(value, opt)
        elif key == "seccomp":
            if not value:
                raise InvalidOption(f'invalid --security-opt: "{opt}": seccomp needs unconfined or a profile file')
            if value == UNCONFINED:
                choice.seccomp = UNCONFINED
            else:
                try:
                    choice.seccomp = read_profile_file(value)
                except EngineError as e:
                    raise InvalidOption(str(e)) from None
        elif key == "systempaths":
            if value != UNCONFINED:
                raise InvalidOption(f'invalid --security-opt: "{opt}": systempaths takes only unconfined')
            choice.unmask_systempaths = True
        elif key == "apparmor":
            if value != UNCONFINED and not lsm_enabled("apparmor"):
                raise InvalidOption(f'--security-opt {opt}: AppArmor is not enabled on this host, '
                                    f'so the profile "{value}" cannot be applied')
            if value != UNCONFINED:
                raise InvalidOption(f"--security-opt {opt}: AppArmor profiles are not supported by minictr yet")
        elif key == "label":
            if value != "disable" and not lsm_enabled("selinux"):
                raise InvalidOption(f"--security-opt {opt}: SELinux is not enabled on this host, "
                                    f"so labels cannot be applied")
            if value != "disable":
                raise InvalidOption(f"--security-opt {opt}: SELinux labels are not supported by minictr yet")
        else:
            raise InvalidOption(f'invalid --security-opt 2: "{opt}"')
    return choice
