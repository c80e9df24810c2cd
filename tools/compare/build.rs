//! With the `opendht` feature: compiles the small C++ shim (shim/opendht_shim.cpp) and links
//! OpenDHT's C API, found with pkg-config. When OpenDHT is not installed the build still
//! succeeds, without the `have_opendht` cfg: the harness then says the peer is missing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(have_opendht)");
    #[cfg(feature = "opendht")]
    opendht::link();
}

#[cfg(feature = "opendht")]
mod opendht {
    use std::process::Command;

    /// pkg-config packages of the C API and the C++ library the shim calls.
    const PACKAGES: [&str; 2] = ["opendht-c", "opendht"];

    /// Links OpenDHT and sets `have_opendht`, or warns that it is not installed.
    pub fn link() {
        println!("cargo::rerun-if-changed=shim/opendht_shim.cpp");
        let Some(cflags) = pkg_config("--cflags") else {
            println!(
                "cargo::warning=OpenDHT not found by pkg-config ({}); the opendht peer is left \
                 out. Install: apt-get install -y libopendht-dev libopendht-c-dev",
                PACKAGES.join(", ")
            );
            return;
        };
        let libs = pkg_config("--libs").unwrap_or_default();
        let mut build = cc::Build::new();
        build.cpp(true).std("c++17").file("shim/opendht_shim.cpp");
        for flag in cflags.split_whitespace() {
            build.flag(flag);
        }
        build.compile("qc_opendht_shim");
        for flag in libs.split_whitespace() {
            if let Some(lib) = flag.strip_prefix("-l") {
                println!("cargo::rustc-link-lib={lib}");
            } else if let Some(dir) = flag.strip_prefix("-L") {
                println!("cargo::rustc-link-search=native={dir}");
            }
        }
        println!("cargo::rustc-cfg=have_opendht");
    }

    /// Output of `pkg-config FLAG opendht-c opendht`, or `None` when either is missing.
    fn pkg_config(flag: &str) -> Option<String> {
        let out = Command::new("pkg-config")
            .arg(flag)
            .args(PACKAGES)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
