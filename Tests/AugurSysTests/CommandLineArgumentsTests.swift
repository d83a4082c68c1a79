@testable import AugurSys
import Testing

/// `--limit -1` reached ArgumentParser as an option named "-1" ("Missing value for '--limit
/// <limit>'"); joined as `--limit=-1` it reaches the option's own check (found from outside).
@Suite struct CommandLineArgumentsTests {
    @Test func aLongOptionsNegativeNumberIsJoinedToIt() {
        #expect(CommandLineArguments.joiningNegativeNumbers(["scan", "--limit", "-1", "--dir", "d"])
            == ["scan", "--limit=-1", "--dir", "d"])
        #expect(CommandLineArguments.joiningNegativeNumbers(["--rate", "-1e300", "--x", "-inf", "--y", "-nan"])
            == ["--rate=-1e300", "--x=-inf", "--y=-nan"])
    }

    @Test func everythingElseIsLeftAlone() {
        let untouched: [[String]] = [
            ["--limit", "5"],                       // not negative
            ["--hex", "-v"],                        // the next word is an option
            ["--limit=-1", "-2"],                   // the option has its value
            ["-n", "-1"],                           // short options are left to ArgumentParser
            ["put", "--", "--key", "-1"],           // after --, words are positional
            ["--name", "-"],                        // "-" alone (standard input) is no number
            ["--name", "-abc"],
        ]
        for args in untouched {
            #expect(CommandLineArguments.joiningNegativeNumbers(args) == args, "\(args)")
        }
    }
}
