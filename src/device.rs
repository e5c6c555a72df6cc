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

/// Device memory of a GPU run, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DeviceMemory {
    /// The high-water mark of memory in use in the device's CUDA memory pool since the last
    /// [`reset_peak_memory`]: every tensor candle allocates (candle allocates from that pool when the
    /// device supports memory pools; then `pool_supported` is true). Not counted: the CUDA context,
    /// loaded kernels and library handles (cuBLAS keeps its workspace in the pool).
    pub peak_in_use: Option<u64>,
    /// Whether candle allocates from the pool on this device (else `peak_in_use` is None).
    pub pool_supported: bool,
    /// Memory in use on the whole device now (total − free, every process), as the driver reports it.
    pub device_used_now: u64,
    /// The device's total memory.
    pub device_total: u64,
}

/// Resets the peak that [`device_memory`] reports. On the CPU it does nothing.
pub fn reset_peak_memory(device: &Device) -> candle_core::Result<()> {
    match device {
        #[cfg(feature = "cuda")]
        Device::Cuda(cuda) => cuda_memory::reset_peak(cuda),
        _ => Ok(()),
    }
}

/// Device memory figures (see [`DeviceMemory`]); `None` on the CPU.
pub fn device_memory(device: &Device) -> candle_core::Result<Option<DeviceMemory>> {
    match device {
        #[cfg(feature = "cuda")]
        Device::Cuda(cuda) => cuda_memory::read(cuda).map(Some),
        _ => Ok(None),
    }
}

/// The memory line `physedit edit` prints on a GPU.
pub fn describe_memory(m: &DeviceMemory) -> String {
    let peak = match m.peak_in_use {
        Some(p) => format!(
            "peak device memory {} (CUDA memory pool high-water mark: PhysEdit's tensors)",
            gib(p)
        ),
        None => "peak device memory unknown (this device has no CUDA memory pool)".to_string(),
    };
    format!(
        "{peak}; in use on the device at the end: {} of {}",
        gib(m.device_used_now),
        gib(m.device_total)
    )
}

/// Bytes in GiB with two decimals, for logs.
pub fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

#[cfg(feature = "cuda")]
mod cuda_memory {
    use super::DeviceMemory;
    use candle_core::cuda_backend::cudarc::driver::{result, sys};
    use candle_core::CudaDevice;

    fn err(what: &str, e: impl std::fmt::Debug) -> candle_core::Error {
        candle_core::Error::Msg(format!("device memory: {what}: {e:?}"))
    }

    /// The context bound to this thread, and the device's current pool when candle allocates from it.
    fn pool(cuda: &CudaDevice) -> candle_core::Result<Option<sys::CUmemoryPool>> {
        let stream = cuda.cuda_stream();
        let ctx = stream.context();
        ctx.bind_to_thread()
            .map_err(|e| err("binding the context", e))?;
        if !ctx.has_async_alloc() {
            return Ok(None);
        }
        // SAFETY: the device handle comes from a live context.
        let pool = unsafe { result::device::get_mem_pool(ctx.cu_device()) }
            .map_err(|e| err("cuDeviceGetMemPool", e))?;
        Ok(Some(pool))
    }

    pub(super) fn reset_peak(cuda: &CudaDevice) -> candle_core::Result<()> {
        if let Some(pool) = pool(cuda)? {
            let mut zero: u64 = 0;
            // SAFETY: USED_MEM_HIGH is a cuuint64_t; resetting it to 0 is what the driver documents.
            unsafe {
                result::mem_pool::set_attribute(
                    pool,
                    sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH,
                    &mut zero as *mut u64 as *mut core::ffi::c_void,
                )
            }
            .map_err(|e| err("resetting the pool's high-water mark", e))?;
        }
        Ok(())
    }

    pub(super) fn read(cuda: &CudaDevice) -> candle_core::Result<DeviceMemory> {
        let pool = pool(cuda)?;
        // Memory figures are only meaningful once queued work has run.
        cuda.cuda_stream()
            .synchronize()
            .map_err(|e| err("synchronising the stream", e))?;
        let peak_in_use = match pool {
            Some(pool) => {
                let mut high: u64 = 0;
                // SAFETY: USED_MEM_HIGH is a cuuint64_t.
                unsafe {
                    result::mem_pool::get_attribute(
                        pool,
                        sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH,
                        &mut high as *mut u64 as *mut core::ffi::c_void,
                    )
                }
                .map_err(|e| err("reading the pool's high-water mark", e))?;
                Some(high)
            }
            None => None,
        };
        let (free, total) = result::mem_get_info().map_err(|e| err("cuMemGetInfo", e))?;
        Ok(DeviceMemory {
            peak_in_use,
            pool_supported: pool.is_some(),
            device_used_now: (total - free) as u64,
            device_total: total as u64,
        })
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
    fn cpu_has_no_device_memory_figures() {
        assert_eq!(device_memory(&Device::Cpu).unwrap(), None);
        reset_peak_memory(&Device::Cpu).unwrap();
        assert_eq!(gib(3 << 29), "1.50 GiB");
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
