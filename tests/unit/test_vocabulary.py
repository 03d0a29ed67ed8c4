from tui_tagger.core.vocabulary import GROUPS, default_vocabulary


def test_table_has_98_attributes_in_seven_groups():
    v = default_vocabulary()
    table = [a for a in v if a.in_table]
    assert len(table) == 98
    assert {a.group for a in table} == set(GROUPS)


def test_known_ids_and_field_extras():
    v = default_vocabulary()
    assert v.get("Ring: Isotropic").id == 42
    assert v.get("GISAXS").id == 6
    assert v.get("Sample").group == "G3" and not v.get("Sample").in_table


def test_lookup_is_case_insensitive_and_open():
    v = default_vocabulary()
    assert v.canonical("ring: isotropic") == "Ring: Isotropic"
    assert "My new tag" not in v
    v.add("My new tag")
    assert "My new tag" in v and v.get("My new tag").group == "Other"
    # the default is not polluted by one caller's additions
    assert "My new tag" not in default_vocabulary()


def test_grid_placement_for_row_col_names():
    a = default_vocabulary().get("Ring: Isotropic")
    assert a.grid == ("Ring", "Isotropic")
    assert a.placement == ("Scattering features in image", "main features")
    assert default_vocabulary().get("Linear beamstop").placement == ("Instrumental", "beamstop")


def test_nearest_suggests_close_names():
    assert "Ring: Isotropic" in default_vocabulary().nearest("Ring Isotropc")
