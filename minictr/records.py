"""Plain data classes for the start-up path: the subset of `dataclasses`
minictr uses (`@dataclass`, `field(default_factory=...)`, `asdict`) with
the same spelling. The standard module imports `inspect` and compiles code
for every class (about 20 ms per runtime start over the classes we define);
a container start is the hot path, so a loop over the fields does it here."""
from __future__ import annotations

_MISSING = object()


class _Field:
    __slots__ = ("default", "default_factory")

    def __init__(self, default, default_factory):
        self.default = default
        self.default_factory = default_factory


def field(*, default=_MISSING, default_factory=_MISSING):
    return _Field(default, default_factory)


def dataclass(cls=None, *, frozen: bool = False):
    def wrap(cls):
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for name, kind in klass.__dict__.get("__annotations__", {}).items():
                if name not in names and not str(kind).startswith("ClassVar"):
                    names.append(name)
        defaults, factories = {}, {}
        for name in names:
            value = getattr(cls, name, _MISSING)
            if isinstance(value, _Field):
                if value.default_factory is not _MISSING:
                    factories[name] = value.default_factory
                    delattr(cls, name)
                else:
                    defaults[name] = value.default
                    setattr(cls, name, value.default)
            elif value is not _MISSING:
                defaults[name] = value
        setter = object.__setattr__

        def __init__(self, *args, **kwargs):
            if len(args) > len(names):
                raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, got {len(args)}")
            for name, value in zip(names, args):
                setter(self, name, value)
            for name in names[len(args):]:
                if name in kwargs:
                    setter(self, name, kwargs.pop(name))
                elif name in factories:
                    setter(self, name, factories[name]())
                elif name in defaults:
                    setter(self, name, defaults[name])
                else:
                    raise TypeError(f"{cls.__name__}() missing argument {name!r}")
            if kwargs:
                raise TypeError(f"{cls.__name__}() got unexpected arguments {sorted(kwargs)}")
            post_init = getattr(self, "__post_init__", None)
            if post_init is not None:
                post_init()

        def __repr__(self):
            inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
            return f"{cls.__name__}({inner})"

        def __eq__(self, other):
            if other.__class__ is not self.__class__:
                return NotImplemented
            return all(getattr(self, n) == getattr(other, n) for n in names)

        cls.__init__ = __init__
        cls.__repr__ = __repr__
        cls.__eq__ = __eq__
        cls.__record_fields__ = tuple(names)
        if frozen:
            def __setattr__(self, name, value):
                raise AttributeError(f"{cls.__name__} is frozen")
            cls.__setattr__ = __setattr__
            cls.__hash__ = lambda self: hash(tuple(getattr(self, n) for n in names))
        else:
            cls.__hash__ = None
        return cls

    return wrap if cls is None else wrap(cls)


def asdict(obj):
    fields = getattr(obj.__class__, "__record_fields__", None)
    if fields is not None:
        return {n: asdict(getattr(obj, n)) for n in fields}
    if isinstance(obj, (list, tuple)):
        return type(obj)(asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: asdict(v) for k, v in obj.items()}
    return obj
