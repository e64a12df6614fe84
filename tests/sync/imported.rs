//! `rebound suppression import`: a list brought from elsewhere, with invalid lines, reaches
//! a node at the next sync; running the import again changes nothing.

use crate::common::{config_file, ok, rebound, text};
use crate::support::TestDb;

async fn an_imported_list_reaches_the_node(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt");
    let node = format!("[[node]]\nname = \"f\"\ntarget = \"file\"\npath = \"{}\"\n", path.display());
    let cfg = config_file(dir.path(), &db, &node);
    let list = dir.path().join("bounces.txt");
    std::fs::write(
        &list,
        "# from the old platform\nOld1@Example.org\nold2@example.org\nnot-an-address\n\nold1@example.org\n",
    )
    .unwrap();

    let dry = ok(&cfg, &["suppression", "import", list.to_str().unwrap(), "--dry-run"]);
    assert!(dry.contains("would add 2") && dry.contains("invalid line 4"), "{dry}");
    let first = ok(&cfg, &["suppression", "import", list.to_str().unwrap(), "--reason", "migrated"]);
    assert!(
        first.contains("added 2,") && first.contains("repeated in the file 1") && first.contains("invalid 1"),
        "{first}"
    );
    let again = ok(&cfg, &["suppression", "import", list.to_str().unwrap()]);
    assert!(again.contains("added 0,") && again.contains("already suppressed 2"), "{again}");
    let shown = ok(&cfg, &["suppression", "show", "old1@example.org"]);
    assert!(shown.contains("import") && shown.contains("migrated"), "{shown}");

    ok(&cfg, &["sync"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old1@example.org\nold2@example.org\n");

    let missing = rebound(&cfg, &["suppression", "import", dir.path().join("nope.csv").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(text(&missing).contains("cannot open"), "{}", text(&missing));
}
on_both_backends!(imported_list, an_imported_list_reaches_the_node);
