// Build information is read with `option_env!`; tell cargo to rebuild when it changes.
fn main() {
    for var in ["BUILD_COMMIT_SHA", "BUILD_TIMESTAMP", "BUILD_VERSION"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=../migrations");
}
