//! `__private::check_len` reports its caller's location, through the cold
//! function that panics. A file of its own: the test installs a panic hook,
//! which is global to the process.

use autodiff_runtime::__private::check_len;
use std::sync::{Arc, Mutex};

#[test]
fn a_length_panic_points_at_the_caller_of_check_len() {
    let seen: Arc<Mutex<Option<(String, u32, String)>>> = Arc::default();
    let record = Arc::clone(&seen);
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().expect("panics have a location");
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        *record.lock().unwrap() = Some((location.file().to_owned(), location.line(), message));
    }));
    let line = line!() + 1;
    let caught = std::panic::catch_unwind(|| check_len("f_vjp", "out_bar", 4, 1));
    let _ = std::panic::take_hook();
    assert!(caught.is_err());
    let (file, at, message) = seen.lock().unwrap().clone().expect("the hook ran");
    assert_eq!(
        message,
        "f_vjp: `out_bar` has length 1 but must have length 4"
    );
    assert!(file.ends_with("check_len.rs"), "{file}");
    assert_eq!(at, line);
}
