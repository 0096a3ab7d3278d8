"""Field-level validation errors shared by every parser of merchant input."""

from __future__ import annotations

from dataclasses import dataclass

from shop_app.errors import ReclaimError


@dataclass(frozen=True)
class FieldError:
    """One refused field: a dotted path into the document and a message for a person."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationError(ReclaimError, ValueError):
    """Raised with every FieldError found, so the merchant sees them all at once."""

    def __init__(self, errors: list[FieldError]):
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))
