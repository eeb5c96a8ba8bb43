"""The backbone registry: every entry builds a classifier whose layers carry the names the code relies on."""

import pytest

from model.core.architecture import build_classifier
from model.core.registry import BACKBONES, FEATURES_LAYER, LOGITS_LAYER


@pytest.mark.parametrize("name", [n for n in BACKBONES if n != "xception"])  # Xception: test_architecture
def test_an_entry_builds_with_its_named_layers(name):
    spec = BACKBONES[name]
    model = build_classifier(4, 64, name)
    for layer in (spec.split_layer, spec.last_conv_layer, FEATURES_LAYER, LOGITS_LAYER):
        model.get_layer(layer)  # raises when a name is missing
    assert model.output.shape[-1] == 4


def test_an_unknown_backbone_names_the_known_ones():
    with pytest.raises(ValueError, match="tiny"):
        build_classifier(4, 64, "resnet")


def test_only_entries_with_pretrained_weights_name_a_source():
    assert BACKBONES["xception"].base_weights is not None and BACKBONES["tiny"].base_weights is None
