//! What the domain crate's test files share.

/// The `.ron` files of a folder of the workspace, in name order.
pub fn ron_files(folder: &str) -> Vec<std::path::PathBuf> {
    let dir = format!("{}/../../{folder}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
}
