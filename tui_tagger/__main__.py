from tui_tagger.cli import main

if __name__ == "__main__":  # not again in a spawned child process (a Dask LocalCluster's workers)
    raise SystemExit(main())
