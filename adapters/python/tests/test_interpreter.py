"""The harness's interpreter set-up: matplotlib's built font list, copied only for a run that reads it."""

import os
import sys

from conftest import in_child

from sandbox_harness import interpreter


def cache_files_around_imports(tmp_path, modules):
    """The files of a fresh cache dir after prepare_interpreter(), then after each import in turn."""
    built, cache = tmp_path / "built", tmp_path / "cache"
    built.mkdir()
    cache.mkdir()
    (built / "fontlist-test.json").write_text("{}")

    def imports():
        interpreter.BUILT_CACHE_DIR = str(built)
        os.environ["MPLCONFIGDIR"] = str(cache)
        interpreter.prepare_interpreter()
        seen = [sorted(os.listdir(cache))]
        for module in modules:
            __import__(module)
            seen.append(sorted(os.listdir(cache)))
        return seen

    kind, value = in_child(imports)
    assert kind == "returned", value
    return value


def test_the_font_list_is_copied_only_when_matplotlibs_font_manager_is_imported(tmp_path):
    assert "matplotlib.font_manager" not in sys.modules
    seen = cache_files_around_imports(tmp_path, ["json", "matplotlib", "matplotlib.font_manager"])
    assert seen[:3] == [[], [], []]
    assert "fontlist-test.json" in seen[3]


def test_a_fork_that_sets_up_again_holds_one_hook_that_copies_into_its_own_cache_dir(tmp_path):
    def twice():
        os.environ["MPLCONFIGDIR"] = str(tmp_path)  # the fork server's, before it forks
        interpreter.prepare_interpreter()
        hooks = cache_files_around_imports(tmp_path / "run", ["matplotlib.font_manager"])
        return hooks, os.listdir(tmp_path)

    (tmp_path / "run").mkdir()
    kind, value = in_child(twice)
    assert kind == "returned", value
    seen, forked_from = value
    assert seen[0] == []
    assert "fontlist-test.json" in seen[1]
    assert forked_from == ["run"]


def test_setting_up_twice_leaves_one_hook():
    def hooks():
        interpreter.prepare_interpreter()
        interpreter.prepare_interpreter()
        return sum(isinstance(hook, interpreter.BeforeImport) for hook in sys.meta_path)

    assert in_child(hooks) == ("returned", 1)
