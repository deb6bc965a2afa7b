"""The register image's fast encoding equals the plain one: every unit's plain words packed in
one call (``PlainEncoder``) and SunSpec models patched point by point (``SunSpecDevice.image``)."""

from __future__ import annotations

import math

from hil_rig import evening_scenario

from hil.datastore.image import RegisterImage
from hil.maps.registers import PlainEncoder, encode, encode_value
from hil.maps.site_map import build_register_map
from twin.model.core import Twin

TYPES = ["uint16", "int16", "uint32", "int32", "float32"]


def test_plain_encoder_gives_the_words_of_encode_value_point_by_point():
    odd = [0.0, 0.5, 1.5, 2.5, -0.5, -1.0, 3.14159, -40000.0, 70000.4, 65535.6, 2.0 ** 31, -2.0 ** 40, 1e12,
           math.nan, math.inf, -math.inf]
    for value in odd:
        for offset in range(len(TYPES)):  # every type at every position of a mixed map
            types = TYPES[offset:] + TYPES[:offset]
            assert PlainEncoder(types).words([value] * len(types)) == \
                [w for t in types for w in encode_value(t, value)], (value, types)


def test_a_served_image_equals_the_point_by_point_and_whole_model_encoding_every_step():
    twin = Twin(evening_scenario())
    image = RegisterImage(build_register_map(twin.site), twin)
    with_sunspec = [u for u in image.units.values() if u.sunspec is not None]
    assert with_sunspec and any(u.sunspec.device.kind == "pv" for u in with_sunspec)
    pv = next(u for u in with_sunspec if u.sunspec.device.kind == "pv")
    for step in range(40):
        snap = twin.step(twin.scenario.step_s)
        if step == 10:  # a control write between steps: its model is encoded whole at the next image
            with image.lock:
                pv.sunspec.command({(123, "WMaxLim_Ena"): 1, (123, "WMaxLimPct"): 55.0}, snap.t_s)
        image.update(snap)
        for unit in image.units.values():
            expected = []
            for point, read in zip(unit.points, unit.readers):
                expected += encode(point, image.own[point.point] if read is None else read(snap.measured, snap))
            assert unit.plain == expected, (step, unit.points[0].device)
        for unit in with_sunspec:  # the whole block as pysunspec2 encodes it from the same point values
            assert unit.sunspec_words == unit.sunspec.image_reference({}), (step, unit.sunspec.device.name)
    assert pv.sunspec.point(123, "WMaxLimPct").cvalue == 55.0  # the write reached the image
