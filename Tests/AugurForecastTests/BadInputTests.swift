import Testing
@testable import AugurForecast

@Suite("Bad input gives typed errors, never a crash")
struct BadInputTests {
    static var options: ForecastOptions {
        var options = ForecastOptions()
        options.seasonalPeriods = [4]
        options.horizon = 2
        return options
    }

    @Test func emptySeries() throws {
        #expect(throws: ForecastError.emptySeries) { try Backtest.run(series: [], options: Self.options, originCount: 1) }
        let ensemble = try ForecastEnsemble(options: Self.options)
        #expect(throws: ForecastError.emptySeries) { try ensemble.forecast() }
    }

    @Test func nonFiniteValuesNameTheirIndex() throws {
        let y = [1.0, 2, .nan, 4, 5, 6, 7, 8, 9, 10]
        do {
            _ = try Backtest.run(series: y, options: Self.options, originCount: 1)
            Issue.record("NaN accepted")
        } catch {
            guard case let .nonFinite(index, value) = error else { Issue.record("wrong error \(error)"); return }
            #expect(index == 2 && value.isNaN)
        }
        let ensemble = try ForecastEnsemble(options: Self.options)
        try ensemble.observe(1)
        #expect(throws: ForecastError.nonFinite(index: 1, value: .infinity)) { try ensemble.observe(.infinity) }
        #expect(ensemble.observationCount == 1)   // the bad value changed nothing
    }

    @Test func periodLongerThanTheData() {
        var options = Self.options
        options.seasonalPeriods = [50]
        let y = (0..<40).map(Double.init)
        #expect(throws: ForecastError.periodTooLong(period: 50, count: 40)) {
            try Backtest.run(series: y, options: options, originCount: 1)
        }
        // Shorter than the data but not than the in-sample part the MASE scale needs.
        options.seasonalPeriods = [35]
        #expect(throws: ForecastError.periodTooLong(period: 35, count: 32)) {
            try Backtest.run(series: y, options: options, originCount: 1)
        }
    }

    @Test func csvWithoutDataRows() {
        #expect(throws: CSVError.noData(file: "a.csv")) { try CSVSeries.column(named: "x", in: "", file: "a.csv") }
        #expect(throws: CSVError.noData(file: "a.csv")) { try CSVSeries.column(named: "x", in: "x\n", file: "a.csv") }
        #expect(throws: CSVError.noData(file: "a.csv")) { try CSVSeries.column(named: "x", in: "\n \r\nx\n\n", file: "a.csv") }
    }

    @Test func unknownColumnListsTheAvailableOnes() {
        #expect(throws: CSVError.unknownColumn(file: "a.csv", name: "load", available: ["time", "ops"])) {
            try CSVSeries.column(named: "load", in: "time,ops\n1,2\n", file: "a.csv")
        }
        #expect(CSVError.unknownColumn(file: "a.csv", name: "x", available: ["a", "b"]).description
            == "column \"x\" not found in a.csv; available columns: a, b")
    }

    /// Two columns of the requested name: the first used to be taken silently (a hostile-input
    /// review forecast column 1 of `load,load`). Now an error naming the name and both places;
    /// a duplicated name the caller did not ask for is no matter.
    @Test func aColumnNamedTwiceIsRefusedWithBothPositions() throws {
        #expect(throws: CSVError.duplicateColumn(file: "a.csv", name: "load", positions: [1, 3])) {
            try CSVSeries.column(named: "load", in: "load,t,load\n1,2,3\n", file: "a.csv")
        }
        #expect(CSVError.duplicateColumn(file: "a.csv", name: "load", positions: [1, 3]).description
            == "column \"load\" appears 2 times in the header of a.csv, at columns 1 and 3 (counting from 1); rename all but one")
        #expect(try CSVSeries.column(named: "v", in: "t,t,v\n1,2,3\n", file: "a.csv") == [3])
    }

    /// A bad cell names its line in the file (header and blank lines counted), its column and
    /// its text; a missing cell, NaN and infinity are bad cells too.
    @Test func badCellsNameFileLineAndValue() {
        #expect(throws: CSVError.badValue(file: "a.csv", line: 4, column: "ops", text: "abc")) {
            try CSVSeries.column(named: "ops", in: "time,ops\n1,2\n\n2,abc\n", file: "a.csv")
        }
        #expect(throws: CSVError.badValue(file: "a.csv", line: 3, column: "v", text: "nan")) {
            try CSVSeries.column(named: "v", in: "v\r\n1\r\nnan\r\n", file: "a.csv")
        }
        #expect(throws: CSVError.badValue(file: "a.csv", line: 3, column: "v", text: "inf")) {
            try CSVSeries.column(named: "v", in: "v\r1\rinf\r", file: "a.csv")
        }
        #expect(throws: CSVError.badValue(file: "a.csv", line: 2, column: "v", text: "")) {
            try CSVSeries.column(named: "v", in: "t,v\n1,\n", file: "a.csv")
        }
        #expect(CSVError.badValue(file: "a.csv", line: 4, column: "ops", text: "abc").description
            == "a.csv line 4, column \"ops\": \"abc\" is not a finite number")
    }

    /// Found from outside: a row with a cell more than the header (an unquoted comma inside a
    /// value) shifted the columns after it and was read as data. Now refused; a quoted comma
    /// stays in its cell, and a row may leave out trailing cells (review: both were refused by a
    /// first version that asked every row for the header's width).
    @Test func aRowWithMoreCellsThanTheHeaderIsRefused() throws {
        #expect(throws: CSVError.rowWidth(file: "a.csv", line: 3, cells: 3, header: 2)) {
            try CSVSeries.column(named: "v", in: "t,v\n1,100\n3,200,5\n4,300\n", file: "a.csv")
        }
        #expect(CSVError.rowWidth(file: "a.csv", line: 3, cells: 3, header: 2).description
            == "a.csv line 3 has 3 cells, more than the header's 2: a comma inside a value shifts the columns after it (quote the value)")
        #expect(try CSVSeries.column(named: "load", in: "time,load,note\n1,100,\"peak, high\"\n2,200,x\n", file: "a.csv") == [100, 200])
        #expect(try CSVSeries.column(named: "v", in: "t,\"v\",note\n1,\"100\"\n2,200\n", file: "a.csv") == [100, 200])
        #expect(try CSVSeries.column(named: "note2", in: "a,\"x,y\",note2\n1,\"2,3\",4\n", file: "a.csv") == [4])
        // Blank lines, CRLF and a last line without its end still read.
        #expect(try CSVSeries.column(named: "v", in: "t,v\r\n1,100\r\n\r\n2,200", file: "a.csv") == [100, 200])
    }

    /// A UTF-8 byte-order mark before the header is not part of the first column's name (it
    /// was: "column "v" not found; available columns: v", the mark invisible).
    @Test func aByteOrderMarkBeforeTheHeaderIsIgnored() throws {
        #expect(try CSVSeries.column(named: "v", in: "\u{FEFF}v,t\n1,2\n", file: "a.csv") == [1])
        #expect(try CSVSeries.column(named: "v", in: "\u{FEFF}v\r\n7\r\n", file: "a.csv") == [7])
    }

    /// A line longer than the limit is refused before it is cut into cells: one line of 200 MB
    /// held about 5 GB as cells and took 45 s before "no data rows" (found from outside).
    @Test func aLineOverTheLimitIsRefusedByItsNumber() throws {
        let long = String(repeating: "1,", count: CSVSeries.maxLineBytes / 2) + "1"
        #expect(throws: CSVError.lineTooLong(file: "a.csv", line: 2, limit: CSVSeries.maxLineBytes)) {
            try CSVSeries.column(named: "v", in: "v\n\(long)\n", file: "a.csv")
        }
        #expect(CSVError.lineTooLong(file: "a.csv", line: 2, limit: 1024).description == "a.csv line 2 is longer than the limit of 1024 bytes")
    }

    @Test func invalidHorizonAndOrigins() throws {
        var options = Self.options
        options.horizon = 0
        #expect(throws: ForecastError.invalidHorizon(horizon: 0, minimum: 1, maximum: ForecastOptions.maximumHorizon)) {
            try ForecastEnsemble(options: options)
        }
        #expect(throws: ForecastError.invalidHorizon(horizon: 5, minimum: 1, maximum: 2)) {
            try Backtest.origins(count: 10, horizon: 5, originCount: 1)
        }
        #expect(throws: ForecastError.invalidOriginCount(count: 9, minimum: 1, maximum: 7)) {
            try Backtest.origins(count: 40, horizon: 2, originCount: 9)
        }
    }

    @Test func invalidOptionsAreNamed() {
        var options = Self.options
        options.seasonalPeriods = [1]
        #expect(throws: ForecastError.periodTooShort(period: 1, minimum: 2)) { try ForecastEnsemble(options: options) }
        options = Self.options
        options.grids.ewmaAlpha = [0.5, 1.5]
        #expect(throws: ForecastError.invalidOption(name: "grids.ewmaAlpha", value: 1.5, limit: "must be in (0, 1]")) {
            try ForecastEnsemble(options: options)
        }
        options = Self.options
        options.weighting.window = 10_000
        #expect(throws: (any Error).self) { try ForecastEnsemble(options: options) }
        for interval in [0, 97] {
            options = Self.options
            options.weighting.refreshInterval = interval
            #expect(throws: ForecastError.invalidOption(name: "weighting.refreshInterval", value: Double(interval),
                                                        limit: "must be between 1 and weighting.window (96)")) {
                try ForecastEnsemble(options: options)
            }
        }
    }

    @Test func warmUpOptionsAreNamed() {
        func rejects(_ expected: ForecastError, _ change: (inout ForecastOptions) -> Void) {
            var options = Self.options
            change(&options)
            #expect(throws: expected) { try ForecastEnsemble(options: options) }
        }
        rejects(.invalidOption(name: "intervals.minimumResiduals", value: 1,
                               limit: "must be between 2 and residualWindow (672)")) { $0.intervals.minimumResiduals = 1 }
        rejects(.invalidOption(name: "intervals.scaleFloor", value: -0.1, limit: "must be in [0, 1]")) {
            $0.intervals.scaleFloor = -0.1
        }
        rejects(.invalidOption(name: "intervals.relativeScaleFloor", value: 2, limit: "must be in [0, 1]")) {
            $0.intervals.relativeScaleFloor = 2
        }
        rejects(.invalidOption(name: "periodDetection.firstCheck", value: 3, limit: "must be at least 4 observations")) {
            $0.periodDetection.firstCheck = 3
        }
        rejects(.invalidOption(name: "periodDetection.checkGrowth", value: 1, limit: "must be in (1, 16]")) {
            $0.periodDetection.checkGrowth = 1
        }
        rejects(.invalidOption(name: "periodDetection.minimumCycles", value: 1.5,
                               limit: "must be between 2 and 16 cycles")) { $0.periodDetection.minimumCycles = 1.5 }
        rejects(.invalidOption(name: "periodDetection.noiseThreshold", value: -1, limit: "must be between 0 and 10")) {
            $0.periodDetection.noiseThreshold = -1
        }
        for halfLife in [0.5, 2e6, .infinity] {
            rejects(.invalidOption(name: "grids.holtWintersHorizonErrorHalfLifePerStep", value: halfLife,
                                   limit: "must be between 1 and 1e6 observations per step")) {
                $0.grids.holtWintersHorizonErrorHalfLifePerStep = halfLife
            }
        }
        // NaN is out of every range (and names itself).
        func rejectsNaN(_ option: String, _ change: (inout ForecastOptions) -> Void) {
            var options = Self.options
            change(&options)
            do {
                _ = try ForecastEnsemble(options: options)
                Issue.record("NaN \(option) accepted")
            } catch {
                guard case let .invalidOption(name, value, _) = error else { Issue.record("wrong error \(error)"); return }
                #expect(name == option && value.isNaN)
            }
        }
        rejectsNaN("grids.holtWintersHorizonErrorHalfLifePerStep") { $0.grids.holtWintersHorizonErrorHalfLifePerStep = .nan }
        rejectsNaN("periodDetection.checkGrowth") { $0.periodDetection.checkGrowth = .nan }
        #expect(ForecastError.invalidOption(name: "intervals.scaleFloor", value: -0.1, limit: "must be in [0, 1]")
            .description == "option intervals.scaleFloor = -0.1 is invalid: must be in [0, 1]")
    }

    @Test func errorDescriptionsNameValueAndLimit() {
        #expect(ForecastError.periodTooLong(period: 5000, count: 4032).description.contains("5000"))
        #expect(ForecastError.periodTooLong(period: 5000, count: 4032).description.contains("4032"))
    }
}
