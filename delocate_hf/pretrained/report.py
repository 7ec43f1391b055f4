"""`InitReport`: what a pretrained initialisation loaded, and one line that says so."""

from dataclasses import dataclass, field


@dataclass
class InitReport:
    """The outcome of loading a pretrained checkpoint into (part of) a Delocate model.

    source: what was read (Hub id, folder, or installed weights package), as the user named it.
    target: the module that received the weights, e.g. "DelocateForMaskedRecovery.videomae".
    loaded: parameter / buffer names of the target that now hold the checkpoint's values.
    initialised: names of the target left at their fresh initialisation (absent from the checkpoint, or of another shape).
    unused: checkpoint tensor names the target has no place for (e.g. an ImageNet classifier head).
    licence: the weights' licence when known (model card), e.g. "Apache-2.0".
    notes: short remarks for the log, e.g. why a part stayed newly initialised ("decoder newly initialised:
        checkpoint's 4 x 384 != model's 1 x 32").
    """

    source: str
    target: str
    loaded: list[str] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    licence: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the training log, e.g. `init: DelocateForMaskedRecovery.videomae <- MCG-NJU/videomae-base:
        196 tensors loaded, 2 newly initialised (classifier.weight, classifier.bias), 4 checkpoint tensors unused`."""

        def some(names: list[str]) -> str:
            shown = ", ".join(names[:3])
            return f" ({shown}{', ...' if len(names) > 3 else ''})" if names else ""

        return (f"init: {self.target} <- {self.source}: {len(self.loaded)} tensors loaded, "
                f"{len(self.initialised)} newly initialised{some(self.initialised)}, "
                f"{len(self.unused)} checkpoint tensors unused{some(self.unused)}"
                + "".join(f"; {note}" for note in self.notes))

    def to_dict(self) -> dict:
        """The JSON-able record kept in the saved config (`DelocateConfig.init_sources`): source, target, counts,
        licence."""
        return {"source": self.source, "target": self.target, "loaded": len(self.loaded),
                "initialised": len(self.initialised), "unused": len(self.unused), "licence": self.licence}
