//! Writes the grey views +Pixel's text detection reads for frame 0 of a file, as PNGs.
//!
//! `cargo run --release -p dcmask-engine --example pixel_views -- FILE OUT_PREFIX`
//! (`OUT_PREFIX-0.png` as displayed, then stored range and extremes).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1]).expect("the file");
    let obj = dcmask_engine::io::read_object(&bytes).expect("a DICOM file");
    let views = dcmask_engine::pixel::render::text_views(&obj, 0).expect("views");
    for (i, v) in views.into_iter().enumerate() {
        let path = format!("{}-{i}.png", args[2]);
        let file = std::fs::File::create(&path).expect("png file");
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), v.width, v.height);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("png header");
        w.write_image_data(&v.pixels).expect("png written");
        eprintln!("{path}");
    }
}
