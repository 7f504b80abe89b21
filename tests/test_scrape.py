import pandas as pd

from conftest import run_ahf, write_params


def test_simulated_scrape_is_byte_identical_across_runs(small_project):
    assert run_ahf(small_project, "scrape").returncode == 0
    first = {name: (small_project / "data/raw" / name).read_bytes() for name in ("submissions.parquet", "comments.parquet")}
    assert run_ahf(small_project, "scrape").returncode == 0
    second = {name: (small_project / "data/raw" / name).read_bytes() for name in first}
    assert first == second


def test_scrape_writes_the_contract_and_its_metrics(small_project):
    result = run_ahf(small_project, "scrape")
    assert result.returncode == 0, result.stderr
    assert "80 submissions" in result.stdout
    submissions = pd.read_parquet(small_project / "data/raw/submissions.parquet")
    assert len(submissions) == 80
    assert (small_project / "reports/scrape.json").read_text().count("scrape/") == 2


def test_an_unknown_source_is_one_line_and_writes_nothing(tmp_path):
    write_params(tmp_path, data={"source": "twitter"})
    result = run_ahf(tmp_path, "scrape")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "data.source" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_a_source_not_built_yet_says_so(tmp_path):
    write_params(tmp_path, data={"source": "dump"})
    result = run_ahf(tmp_path, "scrape")
    assert result.returncode == 2
    assert "not implemented yet" in result.stderr


def test_a_failed_scrape_keeps_the_previous_output(small_project):
    assert run_ahf(small_project, "scrape").returncode == 0
    before = (small_project / "data/raw/comments.parquet").read_bytes()
    write_params(small_project, simulate={"n_prompts": "many"})
    result = run_ahf(small_project, "scrape")
    assert result.returncode == 2 and "simulate.n_prompts" in result.stderr
    assert (small_project / "data/raw/comments.parquet").read_bytes() == before
