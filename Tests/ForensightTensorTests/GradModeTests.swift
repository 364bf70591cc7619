import XCTest
import Foundation
import ForensightTensor

/// `withoutGrad` switches recording off for its own thread or task only.
final class GradModeTests: XCTestCase {
    func testWithoutGradOnOneThreadLeavesAnotherThreadsTapeOn() {
        let inside = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var sawDisabled = false }   // written before `inside`, read after `finished`
        let other = Box()
        Thread.detachNewThread {
            withoutGrad {
                other.sawDisabled = !GradMode.isEnabled
                inside.signal()
                release.wait()          // hold the scope open while the main thread records
            }
            finished.signal()
        }
        inside.wait()
        XCTAssertTrue(GradMode.isEnabled, "another thread's withoutGrad turned this thread's tape off")
        let x = Tensor([1, 2, 3], shape: [3])
        x.requiresGrad = true
        let y = (x * x).sum()
        y.backward()
        XCTAssertEqual(x.grad?.scalars, [2, 4, 6])
        release.signal()
        finished.wait()
        XCTAssertTrue(other.sawDisabled)
        // Nesting restores the outer state.
        withoutGrad {
            XCTAssertFalse(GradMode.isEnabled)
            withoutGrad { XCTAssertFalse(GradMode.isEnabled) }
            XCTAssertFalse(GradMode.isEnabled)
        }
        XCTAssertTrue(GradMode.isEnabled)
    }

    func testConcurrentTasksEachKeepTheirOwnMode() async {
        await withTaskGroup(of: (Bool, Bool).self) { group in
            for k in 0..<8 {
                group.addTask {
                    if k % 2 == 0 { return (withoutGrad { GradMode.isEnabled }, false) }
                    return (GradMode.isEnabled, true)
                }
            }
            for await (enabled, expected) in group { XCTAssertEqual(enabled, expected) }
        }
    }
}
