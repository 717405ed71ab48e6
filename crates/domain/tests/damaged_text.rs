//! Scenario text damaged as an editor damages it (cut short, a character deleted, a stray
//! one typed), with names and comments in more than one byte a character: reading it never
//! panics, and an error points at a line and column inside the text.

mod common;

use payfault_domain::from_ron;

#[test]
fn damaged_scenarios_are_refused_at_a_place_in_the_text() {
    let files = common::ron_files("scenarios");
    let mut tried = 0;
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap()
            .replacen("name: \"", "name: \"naïve—ü ", 1)
            .replace("// ", "// é ");
        for (i, c) in text.char_indices() {
            let (head, tail) = (&text[..i], &text[i..]);
            let mut damaged = vec![head.to_string(), format!("{head}{}", &tail[c.len_utf8()..])];
            for typed in [")", "(", ",", "\"", "é", "None", ":"] {
                damaged.push(format!("{head}{typed}{tail}"));
            }
            for v in damaged {
                tried += 1;
                let Err(e) = from_ron(&v) else { continue };
                let lines: Vec<&str> = v.split('\n').collect();
                let inside = (1..=lines.len()).contains(&e.line)
                    && (1..=lines[e.line - 1].chars().count() + 1).contains(&e.col);
                assert!(
                    inside,
                    "{file:?}, damaged at byte {i}: {}:{} is outside the text: {}",
                    e.line, e.col, e.message
                );
            }
        }
    }
    assert!(tried > 100_000, "{tried} variants");
}
