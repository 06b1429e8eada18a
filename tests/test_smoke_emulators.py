from atlas_continuity.runtime.stores import open_store


def test_put_get_each_cloud(make_store):
    for kind in ("s3", "gcs", "azure"):
        store = open_store(make_store(kind))
        store.put("a/b", b"hello")
        assert store.get("a/b") == b"hello"
        assert store.list("a/") == ["a/b"]
        assert store.stat("a/b") == 5
        assert store.stat("a/c") is None
