"""The base of every config document: unknown fields rejected, frozen once loaded."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Tier = Literal["S", "M", "L"]


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
