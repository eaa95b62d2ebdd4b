//! `torture`: run the mtlog-audit WAL through seeded crash and fault schedules. The command
//! line lives in [`torture::cli`], which `mtlog-audit torture` shares.

use std::process::ExitCode;

fn main() -> ExitCode {
    torture::cli::main_with(std::env::args_os(), &[])
}
