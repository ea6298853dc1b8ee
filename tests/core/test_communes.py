"""Every place gets a commune: the official seats shipped for a département, else seats estimated from
the accidents' own commune codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.core.communes import commune_seats, official_seats


def test_new_caledonia_and_la_reunion_ship_their_official_communes():
    nc, reunion = official_seats("988"), official_seats("974")
    assert len(nc) == 33 and len(reunion) == 24
    assert nc.source == "official list"
    code, dist = nc.locate([-22.27, -20.56], [166.45, 164.28])  # Nouméa's centre, Koumac
    assert list(code) == ["98818", "98812"] and (dist < 1.0).all()
    code, _ = reunion.locate([-20.88], [55.45])
    assert list(code) == ["97411"]  # Saint-Denis


def test_without_a_list_the_seats_come_from_the_accidents():
    accidents = pd.DataFrame({"com": ["01001", "01001", "01002", None], "lat": [45.0, 45.2, 46.0, 47.0],
                              "lon": [5.0, 5.2, 6.0, 7.0]})
    seats = commune_seats("01", accidents)
    assert seats.source == "accident positions" and list(seats.codes) == ["01001", "01002"]
    code, dist = seats.locate([45.1, 46.1], [5.1, 6.0])
    assert list(code) == ["01001", "01002"] and np.all(dist < 20)


def test_no_list_and_no_commune_code_is_a_one_line_error():
    from pipeline.core.errors import AccidentsError

    with pytest.raises(AccidentsError, match="no commune list is shipped and no accident carries a commune code"):
        commune_seats("01", pd.DataFrame({"com": [None], "lat": [45.0], "lon": [5.0]}))
