"""Saving and loading a walk network (GeoPackage) and exporting it to networkx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Self

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._errors import NetworkError
from childspace.network._base import NetworkBase
from childspace.network._helpers import as_object_none

if TYPE_CHECKING:
    import networkx as nx

_FORMAT_VERSION = 1
_META_LAYER = "childspace_meta"


class StorageMixin(NetworkBase):
    """Save/load and networkx export of :class:`childspace.network.engine.WalkNetwork`."""

    def save(self, path: str | Path) -> Path:
        """Write the network to a GeoPackage (layers ``nodes``, ``edges``, ``beside_roads`` when there are any, and
        a metadata table).

        The file is written under a temporary name in the same folder and renamed onto ``path`` only when
        complete, so a failed save leaves an existing file at ``path`` untouched.

        Parameters
        ----------
        path : str or Path
            The GeoPackage to write (replaced if it exists).

        Returns
        -------
        pathlib.Path
            The path written.
        """
        import pyogrio

        from childspace._atomic import atomic_path

        path = Path(path)
        meta = {
            "format": "childspace.WalkNetwork",
            "version": str(_FORMAT_VERSION),
            "crs_wkt": self.crs.to_wkt(),
            "n_nodes": str(self.n_nodes),
            "n_edges": str(self.n_edges),
            "dtypes_nodes": json.dumps({c: str(t) for c, t in self.nodes.dtypes.items()}),
            "dtypes_edges": json.dumps({c: str(t) for c, t in self.edges.dtypes.items()}),
        }
        # written under a temporary name beside ``path`` and renamed into place: a failed save keeps the old file
        with atomic_path(path) as tmp:
            self.nodes.to_file(tmp, layer="nodes", driver="GPKG", engine="pyogrio")
            self.edges.to_file(tmp, layer="edges", driver="GPKG", engine="pyogrio")
            if self.beside_roads is not None and len(self.beside_roads):
                self.beside_roads.to_file(tmp, layer="beside_roads", driver="GPKG", engine="pyogrio")
            pyogrio.write_dataframe(
                pd.DataFrame({"key": list(meta), "value": list(meta.values())}),
                tmp,
                layer=_META_LAYER,
                driver="GPKG",
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a network written by :meth:`save`.

        Raises
        ------
        NetworkError
            The file is missing or is not a saved WalkNetwork.
        """
        import pyogrio

        path = Path(path)
        if not path.exists():
            raise NetworkError(
                "file not found", path=path, fix="save a network first with WalkNetwork.save()"
            )
        layers = {name for name, _ in pyogrio.list_layers(path)}
        if not {"nodes", "edges", _META_LAYER} <= layers:
            raise NetworkError(
                f"not a saved walk network (layers: {sorted(layers)})",
                path=path,
                fix="build the network with WalkNetwork.from_osm() and save() it",
            )
        meta_df = pyogrio.read_dataframe(path, layer=_META_LAYER)
        meta = dict(zip(meta_df["key"], meta_df["value"]))
        crs = CRS.from_wkt(meta["crs_wkt"])
        nodes = gpd.read_file(path, layer="nodes", engine="pyogrio")
        edges = gpd.read_file(path, layer="edges", engine="pyogrio")
        nodes = nodes.set_crs(crs, allow_override=True)
        edges = edges.set_crs(crs, allow_override=True)
        for frame, key in ((nodes, "dtypes_nodes"), (edges, "dtypes_edges")):
            dtypes = json.loads(meta.get(key, "{}"))
            for c, t in dtypes.items():
                if (
                    c in frame.columns
                    and c != frame.geometry.name
                    and t != "object"
                    and str(frame[c].dtype) != t
                ):
                    try:
                        frame[c] = frame[c].astype(t)
                    except (TypeError, ValueError):
                        pass
        as_object_none(nodes, skip=("osmid", "x", "y"))
        as_object_none(edges, skip=("u", "v", "length"))
        if len(nodes) != int(meta["n_nodes"]) or len(edges) != int(meta["n_edges"]):
            raise NetworkError(
                "node/edge counts differ from the saved metadata",
                path=path,
                fix="the file was modified; rebuild and save the network again",
            )
        roads = None
        if "beside_roads" in layers:
            roads = gpd.read_file(path, layer="beside_roads", engine="pyogrio").set_crs(
                crs, allow_override=True
            )
            as_object_none(roads, skip=())
        return cls(nodes, edges, crs, beside_roads=roads)

    def to_networkx(self) -> nx.MultiDiGraph:
        """An osmnx-compatible ``networkx.MultiDiGraph`` (both directions per edge), in the network CRS.

        Nodes are keyed by OSM id with attributes ``x``, ``y`` (metres) and tags; edges carry ``length``,
        ``osmid`` (way), ``geometry`` (oriented along the direction), tags; ``G.graph['crs']`` is set, so
        ``osmnx.distance.nearest_nodes`` and ``osmnx.routing.shortest_path`` work on it.
        """
        import networkx as nx

        G = nx.MultiDiGraph(crs=self.crs, simplified=True, name="childspace walk network")
        ncols = [c for c in self.nodes.columns if c not in ("osmid", self.nodes.geometry.name)]
        nrec = self.nodes[ncols].to_dict("records")
        G.add_nodes_from(zip(self.node_osmid.tolist(), nrec))
        ecols = [
            c
            for c in self.edges.columns
            if c not in ("u", "v", "u_osmid", "v_osmid", "key", self.edges.geometry.name)
        ]
        erec = self.edges[ecols].to_dict("records")
        keys = self.edges["key"].to_numpy() if "key" in self.edges.columns else np.zeros(self.n_edges, int)
        uo = self.node_osmid[self.u].tolist()
        vo = self.node_osmid[self.v].tolist()
        rev = shapely.reverse(self._geom)
        fwd_list = []
        back_list = []
        for i, rec in enumerate(erec):
            k = int(keys[i])
            fwd_list.append((uo[i], vo[i], k, {**rec, "geometry": self._geom[i], "reversed": False}))
            if uo[i] != vo[i]:
                back_list.append((vo[i], uo[i], k, {**rec, "geometry": rev[i], "reversed": True}))
        G.add_edges_from(fwd_list)
        G.add_edges_from(back_list)
        return G
