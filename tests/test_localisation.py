import numpy as np
import pytest

from model.core.localisation import (
    area_share,
    auprc,
    centred_gaussian_map,
    energy_share,
    pointing_hit,
    pointing_tolerance,
    scores,
    uniform_map,
)

SIZE = 299


def square_outline(top=100, left=100, side=50) -> np.ndarray:
    outline = np.zeros((SIZE, SIZE), bool)
    outline[top : top + side, left : left + side] = True
    return outline


def peak_at(y: int, x: int) -> np.ndarray:
    heatmap = np.zeros((SIZE, SIZE), np.float32)
    heatmap[y, x] = 1.0
    return heatmap


def test_a_map_peaked_inside_the_square_hits_and_keeps_all_its_energy_there():
    outline = square_outline()
    result = scores(peak_at(120, 130), outline)
    assert result["pointing_game"] == 1.0
    assert result["energy_share"] == 1.0
    # one pixel ranks first, the rest tie: precision is the area share almost everywhere
    assert result["auprc"] == pytest.approx(area_share(outline), abs=0.01)


def test_a_map_that_ranks_the_square_above_everything_has_auprc_one():
    outline = square_outline()
    heatmap = outline.astype(np.float32) + 0.1 * peak_at(250, 250)
    assert auprc(heatmap, outline) == pytest.approx(1.0)
    assert auprc(1 - heatmap, outline) < area_share(outline) + 0.01


def test_a_map_peaked_far_outside_misses_and_has_no_energy_inside():
    outline = square_outline()
    heatmap = peak_at(250, 250)
    assert pointing_hit(heatmap, outline) == 0.0
    assert energy_share(heatmap, outline) == 0.0


def test_the_pointing_tolerance_is_15_px_at_299_px():
    outline = square_outline()  # right edge at column 149
    assert pointing_tolerance(SIZE) == 15
    assert pointing_hit(peak_at(120, 149 + 15), outline) == 1.0
    assert pointing_hit(peak_at(120, 149 + 17), outline) == 0.0


def test_energy_share_is_the_hand_computed_fraction():
    outline = square_outline()
    heatmap = peak_at(120, 120) + 3 * peak_at(250, 250)  # one unit inside, three outside
    assert energy_share(heatmap, outline) == pytest.approx(0.25)


def test_a_uniform_map_scores_the_outlines_area_share_and_the_chance_of_pointing():
    outline = square_outline()
    flat = uniform_map(np.zeros((SIZE, SIZE, 3), np.uint8))
    assert energy_share(flat, outline) == pytest.approx(area_share(outline)) == pytest.approx(2500 / SIZE**2)
    assert auprc(flat, outline) == pytest.approx(area_share(outline))
    # every pixel ties at the maximum: the hit is the share of the image within the tolerance
    assert area_share(outline) < pointing_hit(flat, outline) < 0.2


def test_the_gaussian_baseline_is_zero_outside_the_head_and_peaks_in_the_middle():
    prepared = np.zeros((SIZE, SIZE, 3), np.uint8)
    prepared[50:250, 50:250] = 120
    gaussian = centred_gaussian_map(prepared)
    assert gaussian[10, 10] == 0 and gaussian[149, 149] == gaussian.max()


def test_an_empty_outline_is_refused():
    with pytest.raises(ValueError):
        scores(peak_at(1, 1), np.zeros((SIZE, SIZE), bool))
