/// The command line as ArgumentParser should see it.
///
/// ArgumentParser reads a word starting with "-" as an option, so `--limit -1` became "Missing
/// value for '--limit <limit>'", naming neither the value nor the limit (found from outside);
/// `--limit=-1` reached the option's own check, which names both. `joiningNegativeNumbers`
/// turns the first into the second before parsing, in `augur`, `augur-load` and `augur-crash`.
///
/// Thread-safety: stateless; safe from any thread.
public enum CommandLineArguments {
    /// This process's arguments after the program's name, joined as below: what the tools
    /// hand to ArgumentParser's `main`.
    public static var forParsing: [String] { joiningNegativeNumbers(Array(CommandLine.arguments.dropFirst())) }

    /// `arguments` with each long option that is followed by a negative number (`--rate -5`,
    /// `--seed -1e300`, `--x -inf`) given it with `=` (`--rate=-5`). Nothing after `--` changes;
    /// an option already holding `=` keeps its next word.
    public static func joiningNegativeNumbers(_ arguments: [String]) -> [String] {
        var out: [String] = []
        out.reserveCapacity(arguments.count)
        var i = 0
        while i < arguments.count {
            let word = arguments[i]
            if word == "--" {
                out += arguments[i...]
                break
            }
            if word.hasPrefix("--"), word.count > 2, !word.contains("="), i + 1 < arguments.count,
               isNegativeNumber(arguments[i + 1]) {
                out.append(word + "=" + arguments[i + 1])
                i += 2
                continue
            }
            out.append(word)
            i += 1
        }
        return out
    }

    /// "-" followed by what reads as a number (or inf, nan): never an option's name.
    static func isNegativeNumber(_ word: String) -> Bool {
        word.hasPrefix("-") && word.count > 1 && Double(word) != nil
    }
}
