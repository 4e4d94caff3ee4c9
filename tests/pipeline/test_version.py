"""The dataset version: a hash of what the published dataset is made of."""

from __future__ import annotations

import copy

from papers.config import Params, load_vocabulary
from papers.pipeline.version import dataset_version
from tests.conftest import REPO


def test_a_vocabulary_edit_without_a_version_bump_is_another_version() -> None:
    vocabulary = load_vocabulary(REPO / "vocab" / "topics.yaml")
    inputs, params = ["ab" * 32], Params()
    version = dataset_version(inputs, params, vocabulary)
    # the same content, loaded again and with its keys in another order: the same version
    reordered = dict(reversed(list(copy.deepcopy(vocabulary).items())))
    assert dataset_version(inputs, params, reordered) == version
    # one term more, the `version` string left as it was: another dataset
    edited = copy.deepcopy(vocabulary)
    edited["topics"][0]["terms"].append("a term added without a bump")
    assert edited["version"] == vocabulary["version"]
    assert dataset_version(inputs, params, edited) != version
