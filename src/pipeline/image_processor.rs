//! image_processor
