//! JPEG through libjpeg-turbo's TurboJPEG 3 API, scaled in the DCT domain.
//!
//! The `turbojpeg` crate's safe wrapper does not expose the parameters this needs
//! (`TJPARAM_STOPONWARNING`, `TJPARAM_MAXPIXELS`, `TJPARAM_MAXMEMORY`, `TJPARAM_SCANLIMIT`), so
//! this module calls its `-sys` crate directly; every unsafe call is here.
//!
//! What it guarantees: the header is read first and the dimensions judged against the limits
//! before anything is allocated for pixels; the decoder stops at the first warning (corrupt or
//! truncated entropy-coded data is an error, not a grey band); progressive buffers are capped by
//! `max_memory_mb`; the output is the smallest power-of-two scale (1/8, 1/4, 1/2, 1) whose
//! longer side still reaches `min_side`.

use std::ffi::CStr;

use turbojpeg_sys as tj;

use crate::{Limits, Refusal};

/// A decoder handle, destroyed on drop.
struct Handle(tj::tjhandle);

impl Handle {
    fn decompressor() -> Result<Self, Refusal> {
        // SAFETY: tj3Init has no preconditions; a null result is handled.
        let ptr = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as libc::c_int) };
        if ptr.is_null() {
            return Err(Refusal::Undecodable(
                "the JPEG decoder could not start".into(),
            ));
        }
        Ok(Self(ptr))
    }

    fn error(&self) -> String {
        // SAFETY: the handle is live; the string is owned by it and copied at once.
        unsafe { CStr::from_ptr(tj::tj3GetErrorStr(self.0)) }
            .to_string_lossy()
            .into_owned()
    }

    fn set(&self, param: tj::TJPARAM, value: libc::c_int) -> Result<(), Refusal> {
        // SAFETY: the handle is live; tj3Set validates the parameter and value.
        if unsafe { tj::tj3Set(self.0, param as libc::c_int, value) } != 0 {
            return Err(Refusal::Undecodable(format!(
                "JPEG decoder parameter refused: {}",
                self.error()
            )));
        }
        Ok(())
    }

    fn get(&self, param: tj::TJPARAM) -> libc::c_int {
        // SAFETY: the handle is live.
        unsafe { tj::tj3Get(self.0, param as libc::c_int) }
    }
}

impl Handle {
    fn compressor() -> Result<Self, String> {
        // SAFETY: as for the decompressor.
        let ptr = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_COMPRESS as libc::c_int) };
        if ptr.is_null() {
            return Err("the JPEG encoder could not start".into());
        }
        Ok(Self(ptr))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by tj3Init, destroyed once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

/// A decoded (possibly scaled) RGB image and the JPEG's own size.
pub struct Decoded {
    pub width: u32,
    pub height: u32,
    pub scaled: image::RgbImage,
}

/// Read only the header: the JPEG's width and height.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), Refusal> {
    let handle = Handle::decompressor()?;
    read_header(&handle, bytes)
}

fn read_header(handle: &Handle, bytes: &[u8]) -> Result<(u32, u32), Refusal> {
    // SAFETY: the pointer and length describe `bytes`, which outlives the call.
    let rc =
        unsafe { tj::tj3DecompressHeader(handle.0, bytes.as_ptr(), bytes.len() as tj::size_t) };
    if rc != 0 {
        return Err(Refusal::Undecodable(format!(
            "unreadable JPEG header: {}",
            handle.error()
        )));
    }
    let (w, h) = (
        handle.get(tj::TJPARAM_TJPARAM_JPEGWIDTH),
        handle.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT),
    );
    match (u32::try_from(w), u32::try_from(h)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(Refusal::Undecodable(format!(
            "JPEG header declares {w}x{h}"
        ))),
    }
}

/// The denominator (8, 4, 2 or 1) of the smallest scale whose longer side reaches `min_side`.
pub fn scale_for(width: u32, height: u32, min_side: u32) -> u32 {
    let longer = width.max(height);
    [8u32, 4, 2]
        .into_iter()
        .find(|d| longer.div_ceil(*d) >= min_side)
        .unwrap_or(1)
}

/// Decode at the smallest scale that keeps `min_side` pixels on the longer side.
pub fn decode_scaled(bytes: &[u8], limits: &Limits, min_side: u32) -> Result<Decoded, Refusal> {
    let handle = Handle::decompressor()?;
    handle.set(tj::TJPARAM_TJPARAM_STOPONWARNING, 1)?;
    handle.set(
        tj::TJPARAM_TJPARAM_MAXPIXELS,
        libc::c_int::try_from(limits.max_pixels).unwrap_or(libc::c_int::MAX),
    )?;
    handle.set(
        tj::TJPARAM_TJPARAM_MAXMEMORY,
        libc::c_int::try_from(limits.max_decoder_memory_mb).unwrap_or(libc::c_int::MAX),
    )?;
    // A progressive JPEG of thousands of tiny scans costs time out of all proportion.
    handle.set(tj::TJPARAM_TJPARAM_SCANLIMIT, 500)?;
    let (width, height) = read_header(&handle, bytes)?;
    limits.check(width, height)?;
    if handle.get(tj::TJPARAM_TJPARAM_PRECISION) != 8 {
        return Err(Refusal::Undecodable(
            "only 8-bit JPEG photos are accepted".into(),
        ));
    }
    // Lossless JPEG cannot be scaled in the DCT domain.
    let denom = if handle.get(tj::TJPARAM_TJPARAM_LOSSLESS) == 1 {
        1
    } else {
        scale_for(width, height, min_side)
    };
    let factor = tj::tjscalingfactor {
        num: 1,
        denom: denom as libc::c_int,
    };
    // SAFETY: the handle is live; the factor is one of TurboJPEG's supported ones.
    if unsafe { tj::tj3SetScalingFactor(handle.0, factor) } != 0 {
        return Err(Refusal::Undecodable(format!(
            "JPEG scaling refused: {}",
            handle.error()
        )));
    }
    let (sw, sh) = (width.div_ceil(denom), height.div_ceil(denom));
    let len = sw as usize * sh as usize * 3;
    // Not zero-filled first: TurboJPEG writes every byte of a successful decode, and on
    // failure the buffer is dropped unread (filling it was a page-faulting memset per photo).
    let mut pixels: Vec<u8> = Vec::with_capacity(len);
    // SAFETY: `pixels` has room for exactly sw × sh × 3 bytes, the scaled size TurboJPEG
    // computes (TJSCALED rounds up, as div_ceil does); pitch 0 means tightly packed rows.
    let rc = unsafe {
        tj::tj3Decompress8(
            handle.0,
            bytes.as_ptr(),
            bytes.len() as tj::size_t,
            pixels.as_mut_ptr(),
            0,
            tj::TJPF_TJPF_RGB as libc::c_int,
        )
    };
    if rc != 0 {
        let why = handle.error();
        // TurboJPEG reports its own limits in words; everything else is bad data.
        return Err(if why.contains("limit") || why.contains("memory") {
            Refusal::TooLarge(format!("JPEG over the decoding limit: {why}"))
        } else {
            Refusal::Undecodable(format!("corrupt JPEG data: {why}"))
        });
    }
    // SAFETY: the decode succeeded, so all `len` bytes (within the capacity) were written.
    unsafe { pixels.set_len(len) };
    let scaled = image::RgbImage::from_raw(sw, sh, pixels)
        .ok_or_else(|| Refusal::Undecodable("decoded JPEG has an unexpected size".into()))?;
    Ok(Decoded {
        width,
        height,
        scaled,
    })
}

/// Encode an RGB image as a JPEG (4:2:0, the given quality), with no metadata at all.
pub fn encode_rgb(image: &image::RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    let handle = Handle::compressor()?;
    let (w, h) = (
        libc::c_int::try_from(image.width()).map_err(|e| e.to_string())?,
        libc::c_int::try_from(image.height()).map_err(|e| e.to_string())?,
    );
    let set = |param: tj::TJPARAM, value: libc::c_int| -> Result<(), String> {
        // SAFETY: the handle is live.
        match unsafe { tj::tj3Set(handle.0, param as libc::c_int, value) } {
            0 => Ok(()),
            _ => Err(handle.error()),
        }
    };
    set(tj::TJPARAM_TJPARAM_QUALITY, libc::c_int::from(quality))?;
    set(
        tj::TJPARAM_TJPARAM_SUBSAMP,
        tj::TJSAMP_TJSAMP_420 as libc::c_int,
    )?;
    // Write into our buffer, sized by TurboJPEG's own worst case; never reallocate it.
    set(tj::TJPARAM_TJPARAM_NOREALLOC, 1)?;
    // SAFETY: pure function of its arguments.
    let capacity = unsafe { tj::tj3JPEGBufSize(w, h, tj::TJSAMP_TJSAMP_420 as libc::c_int) };
    if capacity == 0 || capacity == tj::size_t::MAX {
        return Err(handle.error());
    }
    // Not zero-filled: TurboJPEG's worst case is several times the JPEG it writes.
    let mut out: Vec<u8> = Vec::with_capacity(capacity as usize);
    let mut ptr = out.as_mut_ptr();
    let mut size = capacity;
    // SAFETY: the source holds w × h × 3 bytes (an RgbImage); `ptr` points to `capacity`
    // writable bytes and NOREALLOC keeps TurboJPEG from replacing it.
    let rc = unsafe {
        tj::tj3Compress8(
            handle.0,
            image.as_raw().as_ptr(),
            w,
            0,
            h,
            tj::TJPF_TJPF_RGB as libc::c_int,
            &mut ptr,
            &mut size,
        )
    };
    if rc != 0 || size > capacity || !std::ptr::eq(ptr, out.as_ptr()) {
        return Err(handle.error());
    }
    // SAFETY: TurboJPEG wrote `size` bytes (at most the capacity) into our buffer, which
    // NOREALLOC kept in place.
    unsafe { out.set_len(size as usize) };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::scale_for;

    #[test]
    fn the_scale_keeps_enough_pixels_for_a_thumbnail() {
        assert_eq!(scale_for(4000, 3000, 320), 8); // 500 × 375
        assert_eq!(scale_for(1600, 1200, 320), 4); // 400 × 300
        assert_eq!(scale_for(2000, 1500, 320), 4); // 1/8 would be 250
        assert_eq!(scale_for(640, 480, 320), 2);
        assert_eq!(scale_for(400, 300, 320), 1);
        assert_eq!(scale_for(100, 3000, 320), 8); // the longer side counts
    }
}
