//! The compute device: the first CUDA GPU when the binary is built with `--features cuda` and one
//! is usable, otherwise the CPU.
//!
//! A CUDA build on a machine without a usable GPU (no device, no driver, a driver error while
//! creating the context, or a GPU that cannot run a first small kernel) runs on the CPU: the reason
//! comes back as a one-line notice for the caller to print, never as an error or a backtrace.
//!
//! Parity limit: the `#[cfg(feature = "cuda")]` parts are only compiled in CUDA builds; the default
//! (CPU) build and its tests do not exercise them.
use candle_core::Device;

/// The device to compute on, and a one-line notice when a GPU was wanted but is not usable.
///
/// With `force_cpu`, or in a build without the `cuda` feature, this is the CPU and no notice.
pub fn select_device(force_cpu: bool) -> (Device, Option<String>) {
    if force_cpu {
        return (Device::Cpu, None);
    }
    select_gpu()
}

#[cfg(not(feature = "cuda"))]
fn select_gpu() -> (Device, Option<String>) {
    (Device::Cpu, None)
}

#[cfg(feature = "cuda")]
fn select_gpu() -> (Device, Option<String>) {
    match probe_cuda(0) {
        Ok(device) => (device, None),
        Err(reason) => (Device::Cpu, Some(cpu_fallback_notice(&reason))),
    }
}

/// Creates CUDA device `ordinal` and runs one small kernel on it; any error (or a panic inside the
/// driver bindings) is returned as text.
#[cfg(feature = "cuda")]
fn probe_cuda(ordinal: usize) -> std::result::Result<Device, String> {
    let attempt = std::panic::catch_unwind(|| -> candle_core::Result<Device> {
        let device = Device::new_cuda(ordinal)?;
        // Context creation can succeed on a GPU the kernels cannot run on; a first kernel shows it.
        let probe =
            candle_core::Tensor::ones(4, candle_core::DType::F32, &device)?.affine(2.0, 1.0)?;
        let values = probe.to_vec1::<f32>()?;
        if values != [3.0; 4] {
            candle_core::bail!("a test kernel returned {values:?} instead of [3, 3, 3, 3]");
        }
        Ok(device)
    });
    match attempt {
        Ok(Ok(device)) => Ok(device),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the CUDA bindings panicked".to_string())),
    }
}

/// The notice printed when a GPU was wanted but is not usable: one line, the first line of the
/// reason (driver errors can carry several lines, or a backtrace when `RUST_BACKTRACE` is set).
pub fn cpu_fallback_notice(reason: &str) -> String {
    let first = reason
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error");
    format!("no usable CUDA GPU ({first}); running on the CPU")
}

/// The device in words, for logs: `cpu (N threads)` or `cuda:I (name)`.
pub fn describe_device(device: &Device) -> String {
    match device {
        Device::Cpu => {
            let n = candle_core::utils::get_num_threads();
            format!("cpu ({n} thread{})", if n == 1 { "" } else { "s" })
        }
        #[cfg(feature = "cuda")]
        Device::Cuda(cuda) => {
            let stream = cuda.cuda_stream();
            let ctx = stream.context();
            match ctx.name() {
                Ok(name) => format!("cuda:{} ({name})", ctx.ordinal()),
                Err(_) => format!("cuda:{}", ctx.ordinal()),
            }
        }
        other => format!("{:?}", other.location()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forced_cpu_is_the_cpu_without_notice() {
        let (device, notice) = select_device(true);
        assert!(matches!(device, Device::Cpu));
        assert_eq!(notice, None);
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cpu_build_selects_the_cpu_without_notice() {
        let (device, notice) = select_device(false);
        assert!(matches!(device, Device::Cpu));
        assert_eq!(notice, None);
    }

    #[test]
    fn fallback_notice_is_one_line() {
        // A driver error as candle formats it, followed by a captured backtrace.
        let reason =
            "\nDriverError(CUDA_ERROR_NO_DEVICE, \"no CUDA-capable device is detected\")\n\
                      stack backtrace:\n   0: candle_core::error::Error::bt\n";
        let notice = cpu_fallback_notice(reason);
        assert_eq!(
            notice,
            "no usable CUDA GPU (DriverError(CUDA_ERROR_NO_DEVICE, \"no CUDA-capable device is \
             detected\")); running on the CPU"
        );
        assert_eq!(
            cpu_fallback_notice(""),
            "no usable CUDA GPU (unknown error); running on the CPU"
        );
    }

    #[test]
    fn cpu_described_with_its_thread_count() {
        let n = candle_core::utils::get_num_threads();
        let expected = if n == 1 {
            "cpu (1 thread)".to_string()
        } else {
            format!("cpu ({n} threads)")
        };
        assert_eq!(describe_device(&Device::Cpu), expected);
    }
}
