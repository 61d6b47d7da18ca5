def test_upload_form_maps_cost_and_excluded_columns():
    import polars as pl

    from uplift_studio.app.state import DataSource

    frame = pl.DataFrame(
        {
            "arm": [1, 0, 1, 0, 1, 0],
            "bought": [1, 0, 0, 1, 0, 0],
            "spend": [30.0, 0, 0, 12.5, 0, 0],
            "visit": [1, 0, 1, 1, 0, 0],
            "age": [30, 41, 52, 23, 37, 44],
            "price": [1.0, 2.0, 1.5, 1.0, 2.0, 1.5],
        }
    )
    source = DataSource(
        source="file",
        file_bytes=frame.write_csv().encode(),
        file_name="upload.csv",
        treatment_column="arm",
        conversion_column="bought",
        revenue_column="spend",
        cost_column="price",
        exclude_columns=["visit"],
    )
    experiment = source.experiment()
    assert experiment.features == ("age",)
    assert experiment.has_cost
    assert experiment.frame["contact_cost"].to_list() == [1.0, 2.0, 1.5, 1.0, 2.0, 1.5]
