"""Reading and writing files; no analysis here. Writes are atomic: a failed write leaves nothing half-written."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ._output import reproducible_gpkg, staged_output_file
from .coords import WGS84


def write_gpkg(
    path: str | Path, layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame], *, overwrite: bool = False
) -> Path:
    """Write several layers into one GeoPackage in WGS-84, atomically.

    Raises
    ------
    OutputExistsError
        The file exists and ``overwrite`` is False.
    OutputPathError
        ``path`` is a folder or its folder cannot be written.
    """
    path = Path(path)
    with staged_output_file(path, force=overwrite, what="GeoPackage") as tmp, reproducible_gpkg():
        for name, layer in layers.items():
            if isinstance(layer, gpd.GeoDataFrame):
                out = layer.to_crs(WGS84) if layer.crs is not None else layer
                out = out.copy()
                for col in out.columns:
                    if out[col].dtype == object and col != out.geometry.name:
                        out[col] = out[col].astype("string")
                out.to_file(tmp, layer=name, driver="GPKG")
            else:
                import pyogrio

                table = layer.copy()
                for col in table.columns:
                    if table[col].dtype == object:
                        table[col] = table[col].astype("string")
                pyogrio.write_dataframe(table, tmp, layer=name, driver="GPKG")
    return path


def write_csv_excel(df: pd.DataFrame, path: str | Path) -> Path:
    """CSV in UTF-8 with a byte-order mark, so Excel in China opens Chinese text correctly."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    df.to_csv(tmp, index=False, encoding="utf-8-sig")
    os.replace(tmp, path)
    return path


def replace_dir(tmp_dir: Path, out_dir: Path) -> None:
    """Move a fully written temporary folder into place (the final step of an atomic run)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp_dir, out_dir)
