"""Pipelines and their ordered stages."""

import uuid

from sqlalchemy import Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kit.models import Base, Record


class Pipeline(Record, Base):
    __tablename__ = "pipelines"

    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(default=False)


class PipelineStage(Record, Base):
    __tablename__ = "pipeline_stages"

    pipeline_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    probability: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str] = mapped_column(String(8))
    rotting_days: Mapped[int | None] = mapped_column(Integer, default=None)
    is_proposal: Mapped[bool] = mapped_column(default=False)
