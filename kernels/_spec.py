"""What a library kernel carries: the op, its NumPy reference, and the sizes it is tested at."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class KernelSpec:
    """A library operator.

    ``reference(**arguments)`` updates NumPy copies of the op's arguments in place (it may
    also take any parameter by name, e.g. ``T``). ``sizes`` maps a size-set name to parameter
    values: "python" is small enough for the op run as plain Python; "test" sets exercise
    non-square and size-1 edges; "bench" exceeds the L2 cache.
    """

    name: str
    op: object
    reference: object
    sizes: dict = field(default_factory=dict)
    description: str = ""
    suite: str = "library"        # "polybench" for the PolyBench/C 4.2 suite
    rtol: float | None = None     # comparison tolerance where the default is not right,
                                  # with the reason in ``tolerance_note``
    tolerance_note: str = ""

    def test_sizes(self) -> list[dict]:
        return [v for k, v in self.sizes.items() if k.startswith("test")]


LIBRARY: dict[str, KernelSpec] = {}


def register(spec: KernelSpec) -> KernelSpec:
    if spec.name in LIBRARY:
        raise ValueError(f"kernel {spec.name!r} registered twice")
    LIBRARY[spec.name] = spec
    return spec
